/**
 * apns-topic is a bundle id: CR/LF, NUL, spaces or non-ASCII in it are refused 400 (path
 * `topic`) before a message exists, instead of breaking the bridge's HTTP/2 request later.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { messageIdFor } from "../../src/core/ids.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { installBridge } from "./bridge-fake.ts";
import { getMessage, send, waitForStatus } from "./helpers.ts";
import { waitFor } from "../wait.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const token = () => `aa${"0".repeat(62)}`;
const apns = (topic: string, pushType = "alert") => ({ channel: "apns", to: token(), topic, pushType, payload: { aps: { alert: "hi" } } });

describe("apns topic", () => {
  it.each([
    ["CR LF", "com.example.app\r\napns-priority: 10"],
    ["NUL", "com.example\u0000.app"],
    ["non-ASCII", "com.exämple.app"],
    ["U+2028", "com.example.app\u2028"],
    ["a space", "com.example app"],
    ["no dot", "app"],
  ])("400 for a topic with %s; no message is created", async (_, topic) => {
    const key = `topic-${crypto.randomUUID()}`;
    const res = await send(apns(topic), { idempotencyKey: key });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: "topic", code: "invalid_format" })]);
    expect((await getMessage(await messageIdFor(ACCOUNT_A, key))).status).toBe(404);
  });

  it.each([
    ["voip", "com.example.app.voip"],
    ["liveactivity", "com.example.app.push-type.liveactivity"],
    ["fileprovider", "com.example.app.pushkit.fileprovider"],
  ])("a %s push with its suffixed topic is relayed with that topic", async (pushType, topic) => {
    const res = await send(apns(topic, pushType));
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted");
    const item = await waitFor(() => bridge.calls.flatMap((c) => c.items).find((i) => i.id === res.body.id), "the push at the bridge");
    expect(item).toMatchObject({ topic, pushType });
  });
});
