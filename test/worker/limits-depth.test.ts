/**
 * Hostile nesting: a body nested thousands of levels deep is refused 400 (too_deep) on every
 * channel, on the batch route and on the signed webhook, before anything walks it, and no
 * message exists afterwards under the Idempotency-Key it carried.
 */
import { describe, expect, it } from "vitest";
import { messageIdFor } from "../../src/core/ids.ts";
import { MAX_JSON_DEPTH } from "../../src/core/json-depth.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { api, getMessage, postEvents, subscription } from "./helpers.ts";

/** A JSON text nested `levels` objects deep, as the raw body carries it. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
const token = "a".repeat(64);

/** Valid requests of every channel, each with `metadata` holding the deep value. */
async function bodies(levels: number): Promise<Array<[string, string]>> {
  const to = await subscription("deep");
  const shallow: Record<string, unknown> = {
    email: { channel: "email", from: "news@lasthop.test", to: "deep@example.com", subject: "Hi", text: "hello" },
    apns: { channel: "apns", to: token, topic: "com.example.app", pushType: "alert", payload: { aps: { alert: "hi" } } },
    fcm: { channel: "fcm", to: "fcm-token-123", message: { data: { k: "v" } } },
    webpush: { channel: "webpush", to, payload: "hi" },
    sms: { channel: "sms", to: "+14155550100", from: "+15005550006", body: "hi" },
  };
  return Object.entries(shallow).map(([channel, body]) => [channel, JSON.stringify(body).replace(/}$/, `,"metadata":${nested(levels)}}`)]);
}

function post(path: string, body: string, key: string) {
  return api(path, { method: "POST", body, headers: { "content-type": "application/json", "idempotency-key": key } });
}

describe("nesting depth", () => {
  it.each([2_000, MAX_JSON_DEPTH])(
    "400 too_deep for a send whose metadata nests %i objects deep, on every channel; no message created",
    async (levels) => {
      for (const [channel, body] of await bodies(levels)) {
        const key = `deep-${channel}-${levels}-${crypto.randomUUID()}`;
        const res = await post("/v1/messages", body, key);
        expect(res.status, channel).toBe(400);
        const error = ((await res.json()) as any).error;
        expect(error.code).toBe("validation_failed");
        expect(error.details).toEqual([
          {
            path: `metadata.${Array(MAX_JSON_DEPTH - 1)
              .fill("a")
              .join(".")}`,
            code: "too_deep",
            message: `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
          },
        ]);
        expect((await getMessage(await messageIdFor(ACCOUNT_A, key))).status).toBe(404);
      }
    },
  );

  it("the deepest body that fits is not refused for its depth", async () => {
    // metadata's value is level 2 of the body: 31 objects there make 32 levels.
    const [, body] = (await bodies(MAX_JSON_DEPTH - 1)).find(([c]) => c === "fcm")!;
    const res = await post("/v1/messages", body, `deep-fits-${crypto.randomUUID()}`);
    // The test deployment has no FCM: reaching that check means the depth passed.
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.code).toBe("channel_not_configured");
  });

  it("400 too_deep for a batch holding one deep item; none of its items is created", async () => {
    const [, deep] = (await bodies(2_000)).find(([c]) => c === "sms")!;
    const [, fine] = (await bodies(1)).find(([c]) => c === "sms")!;
    const key = `deep-batch-${crypto.randomUUID()}`;
    const res = await post("/v1/messages/batch", `{"messages":[${fine},${deep}]}`, key);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as any).error;
    expect(error.details[0]).toMatchObject({ path: expect.stringMatching(/^messages\.1\.metadata\.a\./), code: "too_deep" });
    for (const index of [0, 1]) expect((await getMessage(await messageIdFor(ACCOUNT_A, `${key}:${index}`))).status).toBe(404);
  });

  it("400 too_deep for a signed webhook event whose detail nests 2,000 deep", async () => {
    const id = crypto.randomUUID();
    const event = {
      id: `deep-${id}`,
      account: ACCOUNT_A,
      messageId: id,
      type: "delivered",
      occurredAt: new Date().toISOString(),
      provider: "bridge",
    };
    const raw = JSON.stringify({ events: [event] }).replace(/}]}$/, `,"detail":${nested(2_000)}}]}`);
    const res = await postEvents([], { raw });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.details[0]).toMatchObject({
      path: expect.stringMatching(/^events\.0\.detail\.a/),
      code: "too_deep",
    });
  });
});
