// The attachments a simulated provider received, read the way that provider documents them:
// SendGrid `attachments[{content,type,filename,disposition,content_id}]`, Postmark
// `Attachments[{Name,Content,ContentType,ContentID: "cid:…"}]`, Resend
// `attachments[{filename,content,content_type,content_id}]` (JSON, base64 content), and for
// SES (Raw) and Mailgun (messages.mime) the parts of the MIME message itself. Kept with the
// received message so tests compare them with what was sent.
import PostalMime from "postal-mime";

export type ReceivedAttachment = {
  filename: string | null;
  contentType: string | null;
  /** The bytes, base64 (standard, padded), re-encoded from what was received. */
  content: string;
  disposition: "attachment" | "inline" | null;
  /** Without angle brackets or a `cid:` prefix. */
  contentId: string | null;
};

const bare = (id: unknown) => (typeof id === "string" && id !== "" ? id.replace(/^cid:/i, "").replace(/^<(.*)>$/, "$1") : null);
const text = (v: unknown) => (typeof v === "string" ? v : null);
const rebase = (b64: unknown) => Buffer.from(typeof b64 === "string" ? b64 : "", "base64").toString("base64");
const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null) : []);

/** Attachments of a MIME message (postal-mime), bytes and all. */
export async function mimeAttachments(mime: string | Buffer): Promise<ReceivedAttachment[]> {
  const parsed = await PostalMime.parse(mime, { attachmentEncoding: "base64" });
  return parsed.attachments.map(
    (a): ReceivedAttachment => ({
      filename: a.filename,
      contentType: a.mimeType,
      content: rebase(a.content),
      disposition: a.disposition === "inline" ? "inline" : a.disposition === "attachment" ? "attachment" : null,
      contentId: bare(a.contentId),
    }),
  );
}

/** esp.ts's providers (named here, not imported: esp.ts imports this file). */
type Provider = "sendgrid" | "ses" | "mailgun" | "postmark" | "resend";

export async function receivedAttachments(provider: Provider, contentType: string, body: Buffer): Promise<ReceivedAttachment[]> {
  switch (provider) {
    case "sendgrid":
      return list(json(body).attachments).map((a) => ({
        filename: text(a.filename),
        contentType: text(a.type),
        content: rebase(a.content),
        disposition: a.disposition === "inline" ? "inline" : "attachment",
        contentId: bare(a.content_id),
      }));
    case "postmark":
      return list(json(body).Attachments).map((a) => ({
        filename: text(a.Name),
        contentType: text(a.ContentType),
        content: rebase(a.Content),
        disposition: a.ContentID ? "inline" : "attachment",
        contentId: bare(a.ContentID),
      }));
    case "resend":
      return list(json(body).attachments).map((a) => ({
        filename: text(a.filename),
        contentType: text(a.content_type),
        content: rebase(a.content),
        disposition: a.content_id ? "inline" : "attachment",
        contentId: bare(a.content_id),
      }));
    case "ses": {
      const content = json(body).Content as { Raw?: { Data?: unknown } } | undefined;
      const data = content?.Raw?.Data;
      return typeof data === "string" ? mimeAttachments(Buffer.from(data, "base64")) : [];
    }
    case "mailgun": {
      const form = await new Response(new Uint8Array(body), { headers: { "content-type": contentType } }).formData().catch(() => null);
      const message = form?.get("message");
      if (message === null || message === undefined) return [];
      return mimeAttachments(typeof message === "string" ? message : Buffer.from(await message.arrayBuffer()));
    }
  }
}

function json(body: Buffer): Record<string, unknown> {
  try {
    const value = JSON.parse(body.toString("utf8")) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** SendGrid's own refusals of an attachment (400, one error per field). */
export function sendgridAttachmentErrors(value: unknown): Array<{ message: string; field: string; help: null }> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [{ message: "The attachments field must be an array.", field: "attachments", help: null }];
  const errors: Array<{ message: string; field: string; help: null }> = [];
  value.forEach((a: Record<string, unknown> | null, i) => {
    const at = (f: string) => `attachments.${i}.${f}`;
    const content = a?.content;
    if (typeof content !== "string" || content === "")
      errors.push({ message: "The attachment content is required.", field: at("content"), help: null });
    else if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content) || content.length % 4 !== 0)
      errors.push({ message: "The attachment content must be base64 encoded.", field: at("content"), help: null });
    if (typeof a?.filename !== "string" || a.filename === "")
      errors.push({ message: "The attachment filename parameter is required.", field: at("filename"), help: null });
    if (a?.disposition !== undefined && a.disposition !== "inline" && a.disposition !== "attachment")
      errors.push({
        message: "The disposition of your attachment can be either 'inline' or 'attachment'.",
        field: at("disposition"),
        help: null,
      });
    if (a?.disposition === "inline" && (typeof a.content_id !== "string" || a.content_id === ""))
      errors.push({ message: "The content_id parameter is required if your attachment is inline.", field: at("content_id"), help: null });
  });
  return errors;
}

/** Postmark and Resend refuse an attachment without its name or content (422). */
export function namedAttachmentsMissing(value: unknown, name: string, content: string): boolean {
  return list(value).length !== (Array.isArray(value) ? value.length : 0) || list(value).some((a) => !text(a[name]) || !text(a[content]));
}
