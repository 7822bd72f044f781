import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import {
  MAX_ATTACHMENT_BYTES,
  MAX_ATTACHMENTS,
  attachments,
  base64Body,
  decodedLength,
  messageEntity,
  mimeParameter,
} from "../../src/core/attachment.ts";
import { toBase64 } from "../../src/core/bytes.ts";
import { linesWithinLimit } from "../../src/core/mail-header.ts";
import { emailSend } from "../../src/core/schema.ts";

const b64 = (bytes: number[]) => toBase64(Uint8Array.from(bytes));
const file = { content: b64([1, 2, 3]), filename: "a.bin", contentType: "application/octet-stream" };

describe("decodedLength", () => {
  it.each<[string, number[]]>([
    ["one byte (==)", [0xff]],
    ["two bytes (=)", [0xff, 0]],
    ["three bytes (no padding)", [1, 2, 3]],
    ["seven bytes", [1, 2, 3, 4, 5, 6, 7]],
  ])("%s", (_, bytes) => {
    expect(decodedLength(b64(bytes))).toBe(bytes.length);
  });
});

describe("mimeParameter", () => {
  /** The value a reader gets back: RFC 2231 segments joined and percent-decoded, or the quoted string unescaped. */
  const read = (pieces: string[]) => {
    if (pieces.length === 1 && /^\w+="/.test(pieces[0]!)) return pieces[0]!.replace(/^\w+="(.*)"$/, "$1").replace(/\\(.)/g, "$1");
    const joined = pieces.map((p) => p.replace(/^\w+\*(\d+\*)?=/, "")).join("");
    return decodeURIComponent(joined.replace(/^utf-8''/, ""));
  };
  it.each<[string, string, string[] | null]>([
    ["plain ASCII, quoted", "invoice.pdf", ['filename="invoice.pdf"']],
    ["a quote and a backslash, escaped", 'a"b\\c.txt', ['filename="a\\"b\\\\c.txt"']],
    ["non-ASCII, RFC 2231", "Rechnung-März.pdf", ["filename*=utf-8''Rechnung-M%C3%A4rz.pdf"]],
    ["a space stays quoted", "my file.pdf", ['filename="my file.pdf"']],
    ["long non-ASCII: continuations", "ü".repeat(40), null],
    ["long ASCII: continuations", "x".repeat(200), null],
    ["emoji", "📎 report.txt", null],
  ])("%s", (_, value, expected) => {
    const pieces = mimeParameter("filename", value);
    if (expected) expect(pieces).toEqual(expected);
    expect(read(pieces)).toBe(value);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(72);
    if (pieces.length > 1) expect(pieces.every((p, i) => p.startsWith(`filename*${i}*=`))).toBe(true);
  });
});

describe("base64Body", () => {
  it("cuts lines at 76 characters", () => {
    const text = b64(Array.from({ length: 200 }, (_, i) => i));
    const lines = base64Body(text).split("\r\n");
    expect(lines.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect(lines.join("")).toBe(text);
  });
});

describe("attachments (the API field)", () => {
  const issue = (value: unknown) => {
    const parsed = attachments.safeParse(value);
    return parsed.success ? null : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };
  it.each<[string, unknown, RegExp | null]>([
    ["a file", [file], null],
    ["an inline part with its id", [{ ...file, disposition: "inline", contentId: "logo@x.test" }], null],
    ["inline without contentId", [{ ...file, disposition: "inline" }], /contentId: an inline attachment needs a contentId/],
    ["bad base64", [{ ...file, content: "abc" }], /content: must be base64/],
    ["base64 with a line break", [{ ...file, content: "AAAA\nAAAA" }], /content: must be base64/],
    ["empty content", [{ ...file, content: "" }], /content/],
    ["CR/LF in the filename", [{ ...file, filename: "a\r\nBcc: x@y.z" }], /filename: filename may not contain CR, LF/],
    ["NUL in the filename", [{ ...file, filename: "a\u0000b" }], /filename/],
    ["a content type with parameters", [{ ...file, contentType: "text/plain; charset=utf-8" }], /contentType: must be a media type/],
    ["a content type without subtype", [{ ...file, contentType: "image" }], /contentType/],
    ["a Content-ID with brackets", [{ ...file, contentId: "<a@b>" }], /contentId: must be a Content-ID/],
    ["a Content-ID with CR/LF", [{ ...file, contentId: "a\r\nb" }], /contentId/],
    [
      "a Content-ID twice",
      [
        { ...file, contentId: "a" },
        { ...file, contentId: "a" },
      ],
      /contentId a is given twice/,
    ],
    ["an unknown field", [{ ...file, path: "/etc/passwd" }], /path|Unrecognized/],
    ["more than the count limit", Array.from({ length: MAX_ATTACHMENTS + 1 }, () => file), /Too big|at most|<=/],
    ["an empty list", [], /Too small|>=/],
  ])("%s", (_, value, problem) => {
    const found = issue(value);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toMatch(problem);
  });

  it("takes the size limit exactly and refuses a byte more, counted decoded", () => {
    const at = toBase64(new Uint8Array(MAX_ATTACHMENT_BYTES - 1));
    expect(
      issue([
        { ...file, content: at },
        { ...file, content: b64([1]) },
      ]),
    ).toBeNull();
    expect(
      issue([
        { ...file, content: at },
        { ...file, content: b64([1, 2]) },
      ]),
    ).toMatch(new RegExp(`${MAX_ATTACHMENT_BYTES + 1} bytes decoded; a message takes at most ${MAX_ATTACHMENT_BYTES}`));
  });

  it("is a field of the email send", () => {
    const send = { channel: "email", from: "a@x.test", to: "b@y.test", subject: "s", text: "t" };
    expect(emailSend.safeParse({ ...send, attachments: [file] }).success).toBe(true);
    expect(emailSend.safeParse({ ...send, attachments: [{ ...file, content: "!" }] }).success).toBe(false);
  });
});

describe("messageEntity", () => {
  const boundaries = { mixed: "mB", related: "rB", alt: "aB" };
  const text = "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhello";
  const html = 'Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<img src="cid:logo@x.test">';
  const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256);
  const image = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
  const list = [
    {
      content: toBase64(bytes),
      filename: "Grüße – Rechnung März 2026 (endgültig, unterschrieben).bin",
      contentType: "application/octet-stream",
    },
    { content: toBase64(image), filename: "logo.png", contentType: "image/png", disposition: "inline" as const, contentId: "logo@x.test" },
  ];

  it.each<[string, string[], typeof list, string[]]>([
    ["text + html, attached and inline", [text, html], list, ["multipart/mixed", "multipart/related", "multipart/alternative"]],
    ["text, attached only", [text], [list[0]!], ["multipart/mixed"]],
    ["html, inline only", [html], [list[1]!], ["multipart/related"]],
  ])("%s: nests as mixed > related > alternative and parses back byte-identical", async (_, bodies, parts, types) => {
    const entity = messageEntity(bodies, parts, boundaries);
    const raw = `From: a@x.test\r\nTo: b@y.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n${entity}`;
    expect(linesWithinLimit(raw)).toBe(true);
    expect(raw.split("\r\n").every((line) => line.length <= 78)).toBe(true);
    for (const type of types) expect(raw).toContain(type);
    expect(
      raw.indexOf("multipart/mixed") < 0 || raw.indexOf("multipart/mixed") < raw.indexOf("multipart/related") || !raw.includes("related"),
    ).toBe(true);
    const parsed = await PostalMime.parse(raw, { attachmentEncoding: "arraybuffer" });
    expect(parsed.attachments).toHaveLength(parts.length);
    for (const part of parts) {
      const got = parsed.attachments.find((a) => a.filename === part.filename)!;
      expect(got).toBeDefined();
      expect(got.mimeType).toBe(part.contentType);
      expect(new Uint8Array(got.content as ArrayBuffer)).toEqual(Uint8Array.from(atob(part.content), (c) => c.charCodeAt(0)));
      expect(got.disposition).toBe(part.disposition ?? "attachment");
      if (part.contentId) expect(got.contentId).toBe(`<${part.contentId}>`);
    }
    if (bodies.includes(html)) expect(parsed.html).toContain("cid:logo@x.test");
    if (bodies.includes(text)) expect(parsed.text).toContain("hello");
  });
});
