import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verify } from "../../src/webhooks/postmark.ts";

const USER = `hook-${randomBytes(6).toString("hex")}`;
// Postmark takes the credentials in the URL; a password may hold ':' (RFC 7617 splits at the first).
const PASS = `${randomBytes(12).toString("base64url")}:with:colons`;
const CREDENTIALS = { webhookUsername: USER, webhookPassword: PASS };

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`, "utf8").toString("base64")}`;

/** What a client sends for Postmark's documented `https://<username>:<password>@example.com/webhook`. */
function fromUrl(url: string): string {
  const { username, password } = new URL(url);
  return basic(decodeURIComponent(username), decodeURIComponent(password));
}

describe("postmark verify", () => {
  const cases: Array<[string, string | null | undefined, string | null]> = [
    ["valid", basic(USER, PASS), null],
    ["valid, from the documented URL form", fromUrl(`https://${USER}:${encodeURIComponent(PASS)}@example.com/webhook`), null],
    ["scheme in lower case, extra spaces", `basic   ${basic(USER, PASS).slice(6)}  `, null],
    ["wrong password", basic(USER, `${PASS}x`), "bad_credentials"],
    ["password cut at its first ':'", basic(USER, PASS.split(":")[0]!), "bad_credentials"],
    ["wrong username", basic(`${USER}x`, PASS), "bad_credentials"],
    ["both wrong", basic("someone", "guess"), "bad_credentials"],
    ["username and password swapped", basic(PASS, USER), "bad_credentials"],
    ["empty password", basic(USER, ""), "bad_credentials"],
    ["missing header", undefined, "missing_credentials"],
    ["null header", null, "missing_credentials"],
    ["empty header", "", "missing_credentials"],
    ["Bearer scheme", `Bearer ${Buffer.from(`${USER}:${PASS}`).toString("base64")}`, "malformed_credentials"],
    ["Basic without a value", "Basic ", "malformed_credentials"],
    ["not base64", "Basic !!!notbase64", "malformed_credentials"],
    ["no colon", `Basic ${Buffer.from(USER).toString("base64")}`, "malformed_credentials"],
    ["not UTF-8", `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString("base64")}`, "malformed_credentials"],
  ];

  it.each(cases)("%s", async (_name, header, reason) => {
    expect(await verify(header, CREDENTIALS)).toEqual(reason === null ? { ok: true } : { ok: false, reason });
  });

  it("refuses everything when no credentials are configured", async () => {
    expect(await verify(basic("", ""), { webhookUsername: "", webhookPassword: "" })).toEqual({
      ok: false,
      reason: "credentials_not_configured",
    });
    expect(await verify(basic(USER, ""), { webhookUsername: USER, webhookPassword: "" })).toEqual({
      ok: false,
      reason: "credentials_not_configured",
    });
  });
});
