/**
 * SendGrid v3 Mail Send (POST /v3/mail/send, Bearer key): the send's fields as JSON, our id as
 * a custom arg (the Event Webhook echoes custom args as top-level event fields). SendGrid takes
 * no idempotency key for mail/send: a retry after an ambiguous failure could send twice, which
 * is why such a failure pins the message to this route rather than passing it on.
 */
import type { Sections } from "../config/sections.ts";
import type { EspRoute } from "../email-routes.ts";
import { defaultBaseUrl } from "../email-routes.ts";
import type { SendOutcome } from "../outcome.ts";
import { OUR_ID_KEY } from "../provider-event.ts";
import { accepted, base, type EspRequest, metadataPairs, plain, record, refusal, text, unfolded } from "./answer.ts";
import type { EspMessage } from "./message.ts";

export type SendgridCreds = Required<Pick<Sections["provider:sendgrid"], "apiKey">>;
type Route = Extract<EspRoute, { type: "sendgrid" }>;

/** Headers SendGrid documents as reserved (it refuses a request that sets one); compared lower-cased. */
export const SENDGRID_RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "x-sg-id",
  "x-sg-eid",
  "received",
  "dkim-signature",
  "content-type",
  "content-transfer-encoding",
  "to",
  "from",
  "subject",
  "reply-to",
  "cc",
  "bcc",
]);
/** The fields of SendGrid's Event Webhook events, which custom args must not shadow. */
const EVENT_FIELDS: ReadonlySet<string> = new Set(
  "email timestamp event smtp-id sg_event_id sg_message_id category useragent ip url url_offset reason status response attempt type tls cert_err asm_group_id marketing_campaign_id marketing_campaign_name pool sg_machine_open bounce_classification send_at".split(
    " ",
  ),
);
/** SendGrid caps all custom args of a message at 10,000 bytes: 20 pairs of ≤ 64 + ≤ 400 stay under it. */
const CUSTOM_ARG_LIMITS = { maxPairs: 20, maxKey: 64, maxValue: 400, reserved: EVENT_FIELDS };
/** At most 10 categories per message, each at most 255 characters. */
const MAX_CATEGORIES = 10;
const MAX_CATEGORY_LENGTH = 255;

export function request(message: EspMessage, route: Route, creds: SendgridCreds): EspRequest {
  const { request: send } = message;
  const headers = Object.fromEntries(
    Object.entries(message.headers)
      .filter(([name]) => !SENDGRID_RESERVED_HEADERS.has(name.toLowerCase()))
      .map(([name, value]) => [name, unfolded(value)]),
  );
  const categories = [...new Set((send.tags ?? []).map((tag) => tag.slice(0, MAX_CATEGORY_LENGTH)))].slice(0, MAX_CATEGORIES);
  // text/plain first: SendGrid requires that order when both are given.
  const content = [
    ...(send.text !== undefined && send.text !== "" ? [{ type: "text/plain", value: send.text }] : []),
    ...(send.html !== undefined && send.html !== "" ? [{ type: "text/html", value: send.html }] : []),
  ];
  const body = {
    personalizations: [{ to: [{ email: send.to }] }],
    from: { email: send.from, ...(send.fromName ? { name: send.fromName } : {}) },
    ...(send.replyTo ? { reply_to: { email: send.replyTo } } : {}),
    subject: send.subject,
    content,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(send.attachments
      ? {
          attachments: send.attachments.map((a) => ({
            content: a.content,
            type: a.contentType,
            filename: a.filename,
            disposition: a.disposition ?? "attachment",
            ...(a.contentId !== undefined ? { content_id: a.contentId } : {}),
          })),
        }
      : {}),
    ...(categories.length > 0 ? { categories } : {}),
    // Custom args come back flattened among SendGrid's own event fields: metadata keys that
    // would shadow one of those are left out, and ours is written last so nothing replaces it.
    custom_args: { ...Object.fromEntries(metadataPairs(send.metadata, OUR_ID_KEY, CUSTOM_ARG_LIMITS)), [OUR_ID_KEY]: message.id },
  };
  return {
    url: `${base(route.baseUrl ?? defaultBaseUrl("sendgrid"))}/v3/mail/send`,
    method: "POST",
    headers: { authorization: `Bearer ${creds.apiKey}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  };
}

/**
 * 202 with an empty body and the X-Message-Id header (the id the webhook adapter derives from
 * sg_message_id); errors are `{errors: [{message, field, help}]}` by status.
 */
export function outcome(status: number, headers: Headers, body: unknown): SendOutcome {
  if (status >= 200 && status < 300) return accepted(status, headers.get("x-message-id")?.trim() || undefined);
  const errors = Array.isArray(record(body).errors) ? (record(body).errors as unknown[]).map(record) : [];
  const error =
    errors
      .map((e) => text(e.message))
      .filter((m) => m !== undefined)
      .join("; ") || plain(body);
  const fields = errors.map((e) => text(e.field)).filter((f) => f !== undefined);
  return refusal(status, headers, { error: error?.slice(0, 1024), ...(fields.length > 0 ? { fields } : {}) });
}
