import { describe, expect, it } from "vitest";
import { TOLERANCE_SECONDS, checkSignatureHeaders, signedHeaders, type WebhookHeaders } from "../../src/core/standard-webhooks.ts";

const now = 1_735_689_600_000;
const ts = String(now / 1000);
const good: WebhookHeaders = { "webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": `v1,${"A".repeat(43)}=` };

describe("checkSignatureHeaders (before the body is read)", () => {
  it.each<[string, Partial<WebhookHeaders>, string | null]>([
    ["well-formed and fresh", good, null],
    ["several signatures, one v1", { ...good, "webhook-signature": `v2,abc v1,${"B".repeat(43)}=` }, null],
    ["at the edge of the tolerance", { ...good, "webhook-timestamp": String(now / 1000 - TOLERANCE_SECONDS) }, null],
    ["no headers", {}, "missing"],
    ["no id", { ...good, "webhook-id": "" }, "missing"],
    ["no timestamp", { ...good, "webhook-timestamp": undefined }, "missing"],
    ["no signature", { ...good, "webhook-signature": undefined }, "missing"],
    ["a timestamp that is not a number", { ...good, "webhook-timestamp": "yesterday" }, "not a Unix timestamp"],
    ["a timestamp in milliseconds", { ...good, "webhook-timestamp": String(now) }, "not a Unix timestamp"],
    ["a negative timestamp", { ...good, "webhook-timestamp": "-1" }, "not a Unix timestamp"],
    ["a timestamp with a fraction", { ...good, "webhook-timestamp": `${ts}.5` }, "not a Unix timestamp"],
    ["one second too old", { ...good, "webhook-timestamp": String(now / 1000 - TOLERANCE_SECONDS - 1) }, "outside"],
    ["one second too far ahead", { ...good, "webhook-timestamp": String(now / 1000 + TOLERANCE_SECONDS + 1) }, "outside"],
    ["only a v2 signature", { ...good, "webhook-signature": "v2,abc" }, "no v1"],
    ["v1 without a value", { ...good, "webhook-signature": "v1," }, "no v1"],
    ["v1 with a value that is not base64", { ...good, "webhook-signature": "v1,%%%" }, "no v1"],
  ])("%s", (_, headers, problem) => {
    const result = checkSignatureHeaders(headers, now);
    if (problem === null) expect(result).toEqual({ ok: true });
    else expect(result).toEqual({ ok: false, reason: expect.stringContaining(problem) });
  });

  it("headers from signedHeaders() pass", async () => {
    expect(checkSignatureHeaders(await signedHeaders(`whsec_${btoa("a secret of 32 bytes for the test")}`, "{}", now), now)).toEqual({
      ok: true,
    });
  });
});
