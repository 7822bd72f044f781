/**
 * The MIME layer, through postal-mime (runs in workerd and Node): top-level headers, the
 * human-readable text, and the parts a report is made of. Reports are often broken
 * (truncated, wrong boundaries, 8-bit garbage), so the raw body is kept as a fallback and
 * every size is bounded.
 */
import PostalMime from "postal-mime";
import { fieldBlocks } from "./fields.ts";
import { headerMap, type Headers } from "./headers.ts";

export type MimeView = {
  headers: Headers;
  /** The report's human-readable text (text/plain, or text rendered from HTML). */
  text: string;
  /** message/delivery-status (RFC 3464, RFC 6533 global) parts. */
  deliveryStatus: string[];
  /** message/feedback-report (RFC 5965) parts. */
  feedbackReport: string[];
  /** Returned message or its headers: message/rfc822, text/rfc822-headers. */
  returned: string[];
  /** The first message/rfc822 part as bytes: a forwarded bounce is a whole report of its own. */
  attachedMessage?: Uint8Array;
  /** Everything after the top-level header block, as text: the fallback when MIME fails. */
  body: string;
};

/**
 * Past these, input is cut: a report's own text, its fields and the returned message's
 * headers sit at the start, and a 10 MB bounce must cost no more than a 1 MB one (the edge
 * parses inside a Worker's CPU budget).
 */
const MAX_MIME_BYTES = 1024 * 1024;
const MAX_PART_CHARS = 1024 * 1024;
const MAX_BODY_BYTES = 2 * 1024 * 1024;

const decoder = new TextDecoder("utf-8");

function decode(content: ArrayBuffer | Uint8Array | string, limit = MAX_PART_CHARS): string {
  if (typeof content === "string") return content.slice(0, limit);
  const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
  return decoder.decode(bytes.subarray(0, limit));
}

export function toBytes(raw: string | ArrayBuffer | Uint8Array): Uint8Array {
  if (typeof raw === "string") return new TextEncoder().encode(raw);
  return raw instanceof Uint8Array ? raw : new Uint8Array(raw);
}

export async function readMessage(input: Uint8Array): Promise<MimeView> {
  const bytes = stripMboxLine(input);
  const { headerText, bodyStart } = splitHead(bytes);
  const body = decode(bytes.subarray(bodyStart, bodyStart + MAX_BODY_BYTES), MAX_BODY_BYTES);
  const unread: Headers = new Map();
  const view: MimeView = { headers: unread, text: "", deliveryStatus: [], feedbackReport: [], returned: [], body };
  // Our own reading of the headers is needed to tell plain text, or when postal-mime gives none:
  // a multipart or encoded message is not plain text whatever its fields say.
  const maybePlain = !headerText.includes("=?") && !/multipart\//i.test(headerText);
  const ownHeaders = () => headerMap((fieldBlocks(headerText)[0] ?? []).map((f) => ({ key: f.name, value: f.value })));
  if (maybePlain) {
    view.headers = ownHeaders();
    if (plainText(view.headers)) {
      // Plain ASCII/UTF-8 text without encodings: the body is the text, MIME has nothing to add.
      view.text = body.slice(0, MAX_PART_CHARS);
      return view;
    }
  }
  try {
    // Every message/rfc822 stays an attachment: the returned message is evidence, not text.
    const email = await PostalMime.parse(bytes.subarray(0, MAX_MIME_BYTES), {
      forceRfc822Attachments: true,
      attachmentEncoding: "arraybuffer",
    });
    if (email.headers.length) view.headers = headerMap(email.headers);
    else if (view.headers === unread) view.headers = ownHeaders();
    view.text = (email.text ?? "").slice(0, MAX_PART_CHARS);
    for (const part of email.attachments) {
      const type = part.mimeType.toLowerCase();
      if (type === "message/delivery-status" || type === "message/global-delivery-status") view.deliveryStatus.push(decode(part.content));
      else if (type === "message/feedback-report") view.feedbackReport.push(decode(part.content));
      else if (
        type === "message/rfc822" ||
        type === "text/rfc822-headers" ||
        type === "message/global" ||
        type === "message/global-headers"
      ) {
        view.returned.push(decode(part.content, 256 * 1024));
        if (!view.attachedMessage && type !== "text/rfc822-headers" && typeof part.content !== "string") {
          const content = part.content instanceof Uint8Array ? part.content : new Uint8Array(part.content);
          view.attachedMessage = content.subarray(0, MAX_BODY_BYTES);
        }
      } else if (type === "text/plain" && !part.filename && view.returned.length === 0 && /^[\w-]+:/.test(decode(part.content, 64))) {
        // Some MTAs attach the returned headers as text/plain (unknown MTA #6).
        view.returned.push(decode(part.content, 256 * 1024));
      }
    }
  } catch {
    // Not parseable as MIME (or over postal-mime's limits): the raw body is all there is.
    if (view.headers === unread) view.headers = ownHeaders();
  }
  if (!view.text.trim() && !view.deliveryStatus.length && !view.feedbackReport.length) view.text = body.slice(0, MAX_PART_CHARS);
  return view;
}

/** A single text/plain part in 7/8-bit US-ASCII or UTF-8 (the caller has seen no encoded words or multipart in its headers). */
function plainText(headers: Headers): boolean {
  const type = (headers.get("content-type")?.[0] ?? "text/plain").toLowerCase();
  const encoding = (headers.get("content-transfer-encoding")?.[0] ?? "7bit").toLowerCase().trim();
  const charset = /charset\s*=\s*"?([\w.:-]+)/.exec(type)?.[1] ?? "us-ascii";
  return (
    /^text\/plain\b/.test(type) &&
    (encoding === "7bit" || encoding === "8bit") &&
    (charset === "us-ascii" || charset === "utf-8" || charset === "ascii")
  );
}

/** An mbox "From " separator line before the headers is not a header. */
function stripMboxLine(bytes: Uint8Array): Uint8Array {
  if (bytes[0] !== 0x46 || bytes[1] !== 0x72 || bytes[2] !== 0x6f || bytes[3] !== 0x6d || bytes[4] !== 0x20) return bytes;
  const end = bytes.indexOf(0x0a);
  return end < 0 ? bytes : bytes.subarray(end + 1);
}

/** The top header block and where the body starts (first empty line). */
function splitHead(bytes: Uint8Array): { headerText: string; bodyStart: number } {
  const limit = Math.min(bytes.length, 512 * 1024);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) return { headerText: decode(bytes.subarray(0, i)), bodyStart: i + 2 };
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return { headerText: decode(bytes.subarray(0, i)), bodyStart: i + 3 };
  }
  return { headerText: decode(bytes.subarray(0, limit)), bodyStart: limit };
}
