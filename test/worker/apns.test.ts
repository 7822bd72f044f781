import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/bytes.ts";
import { installBridge } from "./bridge-fake.ts";
import { waitFor } from "../wait.ts";
import { api, send, sendMarker, waitForStatus } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
afterEach(() => bridge.restore());

const token = (prefix: string) =>
  prefix + Array.from(crypto.getRandomValues(new Uint8Array(31)), (b) => b.toString(16).padStart(2, "0")).join("");
const apns = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "apns",
  to,
  topic: "com.example.app",
  pushType: "alert",
  payload: { aps: { alert: "hi" } },
  ...extra,
});

describe("APNs through the bridge", () => {
  it("groups a batch of APNs sends into one signed bridge request and records each outcome", async () => {
    bridge = installBridge();
    const tokens = [token("aa"), token("aa"), token("dd"), token("ee"), token("aa")];
    const ids = await Promise.all(tokens.map(async (t) => (await send(apns(t, { collapseId: "c1" }))).body.id as string));
    const [ok] = await Promise.all([
      waitForStatus(ids[0], "accepted"),
      waitForStatus(ids[1], "accepted"),
      waitForStatus(ids[4], "accepted"),
    ]);
    expect(ok.providerMessageId).toBe(ids[0]);
    const bounced = await waitForStatus(ids[2], "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ apnsReason: "Unregistered", unregisteredAt: "2026-01-01T00:00:00.000Z" });
    await waitForStatus(ids[3], "failed");
    // Five sends in one queue batch travel in fewer bridge requests than messages.
    const items = bridge.calls.flatMap((c) => c.items);
    expect(items.map((i) => i.id).sort()).toEqual([...ids].sort());
    expect(bridge.calls.length).toBeLessThan(5);
    expect(items[0]).toMatchObject({ topic: "com.example.app", pushType: "alert" });
  });

  it("a token APNs calls Unregistered is suppressed and the next send to it is refused without a request", async () => {
    bridge = installBridge();
    const dead = token("dd");
    const first = await send(apns(dead));
    await waitForStatus(first.body.id, "bounced");
    const hash = await sha256Hex(dead);
    await waitFor(async () => (await api(`/v1/suppressions/apns/${hash}`)).status === 200);
    const calls = bridge.calls.length;
    const again = await send(apns(dead));
    expect(again.body).toMatchObject({ status: "suppressed", reason: "token_invalid" });
    // Marker: a later send on the same queue reached the bridge; it is the only one since.
    const marker = await sendMarker(apns(token("aa")));
    expect(bridge.calls.slice(calls).flatMap((c) => c.items.map((i) => i.id))).toEqual([marker]);
  });

  it("a throttled notification is retried by the queue and a bridge that is down leaves messages deferred, not lost", async () => {
    bridge = installBridge();
    const throttled = await send(apns(token("cc")));
    const deferred = await waitForStatus(throttled.body.id, "deferred");
    expect(deferred.events.at(-1).detail).toMatchObject({ apnsReason: "TooManyRequests", retryInSeconds: 0 });
    bridge.restore();
    bridge = installBridge({ down: true });
    const res = await send(apns(token("aa")));
    const message = await waitForStatus(res.body.id, "deferred");
    expect(message.events.at(-1).detail).toMatchObject({ reason: "bridge_error", status: 502 });
    bridge.restore();
    bridge = installBridge();
    await waitForStatus(res.body.id, "accepted");
  });
});
