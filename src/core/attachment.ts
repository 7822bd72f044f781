/**
 * Email attachments (issue 19): the API's field, its limits, and the pure parts of writing one
 * into MIME (size accounting from the base64 text, RFC 2231 parameters, the body lines).
 *
 * The limits, and why they are these:
 * - every provider takes far more (SendGrid 30 MB, SES v2 40 MB, Mailgun 25 MB, Resend 40 MB,
 *   Postmark 10 MB, all per message), so ours is set by our own pipeline: the MessageDO keeps the
 *   request in one SQLite row, and Durable Object SQLite caps a row at 2 MB. The request carries
 *   attachments as base64 (4/3 of their size), so 1 MiB decoded is 1.33 MiB stored, which leaves
 *   room for the text and html under `MAX_STORED_REQUEST_BYTES`.
 * - The composed message (base64 in 76-character lines) of a request at that cap is under 2.7 MB:
 *   one bridge request (4 MiB chunks under its 5 MiB body limit) and every provider's limit.
 * - Queue messages carry the message id only: the consumer reads the request from the MessageDO.
 */
import { z } from "zod";
import { hasLineBreak } from "./email.ts";
import { hasControlCharacter } from "./mail-header.ts";

/** At most this many attachments (inline parts included) per message. */
export const MAX_ATTACHMENTS = 10;
/** At most this many bytes of attachments per message, decoded, all together. */
export const MAX_ATTACHMENT_BYTES = 1024 * 1024;
/** A send's request as the MessageDO stores it (JSON, UTF-8): under the 2 MB row cap with room for the other columns. */
export const MAX_STORED_REQUEST_BYTES = 1_900_000;
/** The body limit of the send routes: a message at the attachment limit with its text and html. */
export const MAX_SEND_BODY_BYTES = 1792 * 1024;

/** Standard base64 with its padding (RFC 4648 §4), no line breaks: what every provider's JSON takes. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 2045 §5.1 `type "/" subtype`, tokens without parameters. */
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/;
/** RFC 5322 dot-atom text on both sides of an optional @ (the msg-id form, written inside <>). */
const CONTENT_ID = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?:@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)?$/;

/** The bytes a valid base64 text decodes to, without decoding it. */
export function decodedLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

const noControls = (what: string) =>
  z.string().refine((s) => !hasLineBreak(s) && !hasControlCharacter(s), `${what} may not contain CR, LF or other control characters`);

export const attachment = z
  .strictObject({
    /** The file, base64 (standard alphabet, padded, no line breaks). */
    content: z.string().min(4, "must not be empty").regex(BASE64, "must be base64 (standard alphabet, padded, without line breaks)"),
    filename: noControls("filename").pipe(z.string().min(1).max(255)),
    contentType: z.string().max(127).regex(CONTENT_TYPE, "must be a media type such as application/pdf (type/subtype, no parameters)"),
    /** `inline`: shown in the html where it says `cid:{contentId}` (multipart/related). */
    disposition: z.enum(["attachment", "inline"]).optional(),
    contentId: z.string().max(200).regex(CONTENT_ID, "must be a Content-ID without angle brackets, such as logo@example.com").optional(),
  })
  .refine((a) => a.disposition !== "inline" || a.contentId !== undefined, {
    message: "an inline attachment needs a contentId (the html refers to it as cid:{contentId})",
    path: ["contentId"],
  });
export type Attachment = z.infer<typeof attachment>;

export const attachments = z
  .array(attachment)
  .min(1)
  .max(MAX_ATTACHMENTS)
  .superRefine((list, ctx) => {
    const total = list.reduce((sum, a) => sum + (BASE64.test(a.content) ? decodedLength(a.content) : 0), 0);
    if (total > MAX_ATTACHMENT_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `the attachments are ${total} bytes decoded; a message takes at most ${MAX_ATTACHMENT_BYTES}`,
      });
    }
    const ids = list.map((a) => a.contentId).filter((id) => id !== undefined);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: "custom", message: `contentId ${id} is given twice` });
    });
  });

/** Inline parts go in multipart/related with the html; the others are attached (multipart/mixed). */
export function isInline(a: Attachment): boolean {
  return a.disposition === "inline";
}

/** Base64 text in lines of 76 characters (RFC 2045 §6.8), CRLF between them. */
export function base64Body(base64: string): string {
  return base64.replace(/.{76}(?=.)/g, "$&\r\n");
}

/** Characters a parameter value may carry as it is, inside quotes (printable ASCII but `"` and `\`, quoted below). */
const QUOTABLE = /^[\x20-\x7e]*$/;
/** attr-char of RFC 2231 §7 (RFC 5987 §3.2.1): what stays as it is in an extended value. */
const ATTR_CHAR = /[A-Za-z0-9!#$&+.^_`|~-]/;
/** A parameter segment's length: each line of the field stays well under 78 characters. */
const SEGMENT = 60;

/**
 * A MIME parameter (`filename` of Content-Disposition, `name` of Content-Type) as the pieces to
 * write, each on its own folded line: a short printable-ASCII value quoted (`"` and `\` escaped);
 * anything else as RFC 2231 `name*=utf-8''…` percent-encoded, in continuations
 * (`name*0*=…; name*1*=…`) when long, never splitting a %XX triple.
 */
export function mimeParameter(name: string, value: string): string[] {
  const quoted = `"${value.replace(/["\\]/g, "\\$&")}"`;
  if (QUOTABLE.test(value) && quoted.length <= SEGMENT) return [`${name}=${quoted}`];
  let encoded = "";
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    encoded += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  const full = `utf-8''${encoded}`;
  if (full.length <= SEGMENT) return [`${name}*=${full}`];
  const segments: string[] = [];
  let rest = full;
  while (rest.length > 0) {
    let cut = Math.min(SEGMENT, rest.length);
    // Back off so a %XX triple stays whole.
    const percent = rest.lastIndexOf("%", cut - 1);
    if (percent > cut - 3 && percent >= 0 && cut < rest.length) cut = percent;
    segments.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return segments.map((segment, i) => `${name}*${i}*=${segment}`);
}

/** A header field of a value and its parameters, folded one parameter a line. */
function withParameters(field: string, value: string, parameters: string[]): string {
  return [`${field}: ${value}`, ...parameters].join(";\r\n ");
}

/** The MIME entity of one attachment: its header fields, a blank line, its base64 lines. */
export function attachmentEntity(a: Attachment): string {
  const lines = [
    withParameters("Content-Type", a.contentType, mimeParameter("name", a.filename)),
    "Content-Transfer-Encoding: base64",
    withParameters("Content-Disposition", isInline(a) ? "inline" : "attachment", mimeParameter("filename", a.filename)),
    ...(a.contentId !== undefined ? [`Content-ID: <${a.contentId}>`] : []),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${base64Body(a.content)}`;
}

/** A multipart entity of these entities (each its header fields and body) under this boundary. */
export function multipartEntity(subtype: "mixed" | "related" | "alternative", boundary: string, entities: string[]): string {
  const parts = entities.map((entity) => `--${boundary}\r\n${entity}\r\n`).join("");
  return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\n${parts}--${boundary}--`;
}

/**
 * The body structure with attachments: multipart/mixed (the attached files) around
 * multipart/related (the inline parts, found by Content-ID) around the text and html
 * (multipart/alternative when both). `bodies` are the text entities, plain first.
 */
export function messageEntity(bodies: string[], list: Attachment[], boundaries: { mixed: string; related: string; alt: string }): string {
  let entity = bodies.length > 1 ? multipartEntity("alternative", boundaries.alt, bodies) : bodies[0]!;
  const inline = list.filter(isInline);
  const attached = list.filter((a) => !isInline(a));
  if (inline.length > 0) entity = multipartEntity("related", boundaries.related, [entity, ...inline.map(attachmentEntity)]);
  if (attached.length > 0) entity = multipartEntity("mixed", boundaries.mixed, [entity, ...attached.map(attachmentEntity)]);
  return entity;
}
