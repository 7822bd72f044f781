import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installPushService } from "./push-service.ts";
import { getMessage, send, waitForStatus, webpush } from "./helpers.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

describe("web push sends", () => {
  it("sends, records the push service's custody as accepted (never delivered)", async () => {
    const res = await send(await webpush("ok-1", { ttl: 0, urgency: "high", topic: "news" }));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("queued");
    const message = await waitForStatus(res.body.id, "accepted");
    expect(message.attempts).toBe(1);
    expect(message.providerMessageId).toMatch(/^https:\/\/push\.test\/m\//);
    expect(message.events.map((e: any) => e.type)).toEqual(["queued", "sending", "accepted"]);
    const [request] = push.to("ok-1");
    expect(request.headers.ttl).toBe("0");
    expect(request.headers.urgency).toBe("high");
    expect(request.headers.topic).toBe("news");
    expect(request.headers["content-encoding"]).toBe("aes128gcm");
    expect(request.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  });
});
