/**
 * Email header rules on real composed bytes: control characters refused 400 with the
 * header's path (nothing created), long values folded so no line passes 998 octets (header
 * lines keep to 78 wherever the value allows), and a single word too long to fold refused.
 */
import PostalMime, { decodeWords } from "postal-mime";
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

const email = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@lasthop.test",
  to,
  subject: "Hi",
  text: "Hello",
  ...extra,
});

async function refused(body: unknown, path: string) {
  const key = `hdr-${crypto.randomUUID()}`;
  const res = await send(body, { idempotencyKey: key });
  expect(res.status, path).toBe(400);
  expect(res.body.error.code).toBe("validation_failed");
  expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
  expect((await getMessage(await messageIdFor(ACCOUNT_A, key))).status).toBe(404);
}

describe("email header values", () => {
  it.each([
    ["NUL", "\u0000"],
    ["VT", "\u000b"],
    ["FF", "\u000c"],
    ["ESC", "\u001b"],
    ["DEL", "\u007f"],
    ["U+0085", "\u0085"],
    ["U+2028", "\u2028"],
    ["U+2029", "\u2029"],
  ])("400 for %s in a custom header, the subject or the display name; no message", async (_, c) => {
    await refused(email("ctl@example.com", { headers: { "X-Campaign": `spring${c}sale` } }), "headers.X-Campaign");
    await refused(email("ctl@example.com", { subject: `Hi${c}there` }), "subject");
    await refused(email("ctl@example.com", { fromName: `Lasthop${c}News` }), "fromName");
  });

  it("400 for a custom header whose value is one word too long to fold, and for an address over 254 characters", async () => {
    await refused(email("long@example.com", { headers: { "X-Token": "t".repeat(998) } }), "headers.X-Token");
    await refused(email(`${"a".repeat(64)}@${"d".repeat(185)}.test`), "to");
  });

  it("long subject, display name and custom headers are folded: every line ≤ 998, header lines ≤ 78 but unbreakable words, values intact", async () => {
    const subject = "Grüße — your order 👋 is on its way ".repeat(40).slice(0, 998);
    const fromName = "Lasthöp Néws ".repeat(15).slice(0, 200);
    const note = Array.from({ length: 160 }, (_, i) => `word${i}`)
      .join(" ")
      .slice(0, 998)
      .trimEnd();
    const token = "t".repeat(989); // one word: 998 octets with "X-Token: "
    const unicode = "Frühlingsangebot für Sie ".repeat(30).trimEnd();
    const res = await send(
      email("folded@example.com", { subject, fromName, headers: { "X-Note": note, "X-Token": token, "X-Unicode": unicode } }),
    );
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted");
    const item = await waitFor(() => bridge.mail.find((m) => m.id === res.body.id), "the message at the bridge");

    const raw: string = item.raw;
    const lines = raw.split("\r\n");
    for (const line of lines) expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(998);
    const head = raw.slice(0, raw.indexOf("\r\n\r\n")).split("\r\n");
    const over78 = head.filter((l) => l.length > 78);
    // Only what has no whitespace to fold at: the one-word X-Token and the List-Unsubscribe URIs.
    expect(over78.length).toBeGreaterThan(0);
    for (const line of over78) expect(line).toMatch(/^(X-Token: t+|(List-Unsubscribe: )?\s*<(https|mailto):[^ ]+)$/);
    expect(head.find((l) => l.startsWith("X-Token: "))).toBe(`X-Token: ${token}`);
    // The whole head is 7-bit: non-ASCII went as encoded-words.
    expect(/^[\x00-\x7f]*$/.test(head.join(""))).toBe(true);

    const parsed = await PostalMime.parse(raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from).toMatchObject({ name: fromName, address: "news@lasthop.test" });
    const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value;
    expect(header("x-note")).toBe(note);
    expect(header("x-token")).toBe(token);
    // An unstructured header that is not ASCII goes as encoded-words: what a mail reader decodes.
    expect(header("x-unicode")).toMatch(/^=\?utf-8\?B\?/);
    expect(decodeWords(header("x-unicode")!)).toBe(unicode);
  });
});
