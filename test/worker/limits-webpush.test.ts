/**
 * The push allowlist names hosts and ports: an entry without a port allows 443 only, so a
 * subscription pointing at another port of an allowed host is refused 422 and never fetched.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { messageIdFor } from "../../src/core/ids.ts";
import { ACCOUNT_A, TEST_PUSH_HOST } from "../fixtures.ts";
import { installPushService } from "./push-service.ts";
import { getMessage, send, subscription, waitForStatus } from "./helpers.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

describe("push endpoint ports", () => {
  it.each([
    `https://${TEST_PUSH_HOST}:8443/port-8443`,
    `https://${TEST_PUSH_HOST}:80/port-80`,
    "https://fcm.googleapis.com:8080/fcm/send/port-8080",
    "https://db5.notify.windows.com:444/w/?token=port-444",
  ])("422 endpoint_not_allowed for %s; no message, nothing fetched", async (endpoint) => {
    const key = `port-${crypto.randomUUID()}`;
    const to = await subscription("x");
    const res = await send({ channel: "webpush", to: { ...to, endpoint }, payload: "x" }, { idempotencyKey: key });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({
      code: "endpoint_not_allowed",
      details: [{ path: "to.endpoint", message: expect.stringContaining(new URL(endpoint).host) }],
    });
    expect((await getMessage(await messageIdFor(ACCOUNT_A, key))).status).toBe(404);
    expect(push.requests.filter((r) => r.path.startsWith("port-"))).toEqual([]);
  });

  it("an explicit :443 is the default port: accepted and delivered", async () => {
    const to = await subscription("port-443");
    const res = await send({ channel: "webpush", to: { ...to, endpoint: `https://${TEST_PUSH_HOST}:443/port-443` }, payload: "x" });
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted");
    expect(push.to("port-443")).toHaveLength(1);
  });
});
