/**
 * Resend /emails (Bearer key): the send's fields as JSON, our id as the tag `lasthop_id`
 * (webhooks echo tags) and as the Idempotency-Key, so a retry after an ambiguous failure
 * is answered with the first attempt's id instead of sending twice (for 24 hours).
 */
import type { Sections } from "../config/sections.ts";
import type { EspRoute } from "../email-routes.ts";
import { defaultBaseUrl } from "../email-routes.ts";
import type { SendOutcome } from "../outcome.ts";
import { OUR_ID_KEY } from "../provider-event.ts";
import {
  accepted,
  base,
  type EspRequest,
  mailbox,
  metadataPairs,
  plain,
  record,
  refusal,
  safeTags,
  TAG_PAIR_LIMITS,
  text,
  unfolded,
} from "./answer.ts";
import type { EspMessage } from "./message.ts";

export type ResendCreds = Required<Pick<Sections["provider:resend"], "apiKey">>;
type Route = Extract<EspRoute, { type: "resend" }>;

/** A tag without a value of its own: the same alphabet as names. */
const TAG_PRESENT = "true";

export function request(message: EspMessage, route: Route, creds: ResendCreds): EspRequest {
  const { request: send } = message;
  const headers = Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [name, unfolded(value)]));
  const body = {
    from: mailbox(send.from, send.fromName),
    to: [send.to],
    subject: send.subject,
    ...(send.text !== undefined && send.text !== "" ? { text: send.text } : {}),
    ...(send.html !== undefined && send.html !== "" ? { html: send.html } : {}),
    ...(send.replyTo ? { reply_to: send.replyTo } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    // Resend makes a part inline when it has a content_id.
    ...(send.attachments
      ? {
          attachments: send.attachments.map((a) => ({
            filename: a.filename,
            content: a.content,
            content_type: a.contentType,
            ...(a.disposition === "inline" ? { content_id: a.contentId } : {}),
          })),
        }
      : {}),
    tags: [
      { name: OUR_ID_KEY, value: message.id },
      ...safeTags(send.tags, OUR_ID_KEY).map((name) => ({ name, value: TAG_PRESENT })),
      // Metadata whose keys and values are already in the tag alphabet rides as tags too.
      ...metadataPairs(send.metadata, OUR_ID_KEY, TAG_PAIR_LIMITS).map(([name, value]) => ({ name, value })),
    ],
  };
  return {
    url: `${base(route.baseUrl ?? defaultBaseUrl("resend"))}/emails`,
    method: "POST",
    headers: {
      authorization: `Bearer ${creds.apiKey}`,
      "content-type": "application/json",
      accept: "application/json",
      "idempotency-key": message.id,
    },
    body: JSON.stringify(body),
  };
}

/**
 * 200 `{id}`; errors `{statusCode, name, message}`. 409 `concurrent_idempotent_requests`: an
 * earlier attempt with this key is still being processed, so it may yet be sent: pinned.
 * 409 `invalid_idempotent_request` (the key was used with another body) falls to the 4xx rule.
 */
export function outcome(status: number, headers: Headers, body: unknown): SendOutcome {
  const json = record(body);
  if (status >= 200 && status < 300) return accepted(status, text(json.id));
  const error = { error: (text(json.message) ?? plain(body))?.slice(0, 1024), errorCode: text(json.name) };
  if (status === 409 && error.errorCode === "concurrent_idempotent_requests")
    return { kind: "retry", detail: { reason: "in_progress", status, ...error, submitted: "maybe" } };
  return refusal(status, headers, error);
}
