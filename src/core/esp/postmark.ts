/**
 * Postmark /email (X-Postmark-Server-Token): the send's fields as JSON, our id in `Metadata`
 * (webhooks echo it), the stream the section names (default "outbound", transactional).
 * Postmark takes no idempotency key: an ambiguous failure pins the message to this route.
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
  retryNotSubmitted,
  suppressed,
  text,
  unfolded,
} from "./answer.ts";
import type { EspMessage } from "./message.ts";

type Section = Sections["provider:postmark"];
export type PostmarkCreds = Required<Pick<Section, "serverToken">> & Pick<Section, "messageStream">;
type Route = Extract<EspRoute, { type: "postmark" }>;

export const DEFAULT_MESSAGE_STREAM = "outbound";
/** Postmark's metadata: at most 10 fields (ours is one), names ≤ 20 characters, values ≤ 80. */
const METADATA_LIMITS = { maxPairs: 9, maxKey: 20, maxValue: 80 };
/** Postmark takes one tag of at most 1000 characters. */
const MAX_TAG_LENGTH = 1000;

export function request(message: EspMessage, route: Route, creds: PostmarkCreds): EspRequest {
  const { request: send } = message;
  const tag = send.tags?.[0]?.slice(0, MAX_TAG_LENGTH);
  const body = {
    From: mailbox(send.from, send.fromName),
    To: send.to,
    Subject: send.subject,
    ...(send.text !== undefined && send.text !== "" ? { TextBody: send.text } : {}),
    ...(send.html !== undefined && send.html !== "" ? { HtmlBody: send.html } : {}),
    ...(send.replyTo ? { ReplyTo: send.replyTo } : {}),
    Headers: Object.entries(message.headers).map(([Name, value]) => ({ Name, Value: unfolded(value) })),
    ...(tag ? { Tag: tag } : {}),
    // Postmark makes a part inline when it has a ContentID, written `cid:…` as the html refers to it.
    ...(send.attachments
      ? {
          Attachments: send.attachments.map((a) => ({
            Name: a.filename,
            Content: a.content,
            ContentType: a.contentType,
            ...(a.disposition === "inline" ? { ContentID: `cid:${a.contentId}` } : {}),
          })),
        }
      : {}),
    Metadata: { ...Object.fromEntries(metadataPairs(send.metadata, OUR_ID_KEY, METADATA_LIMITS)), [OUR_ID_KEY]: message.id },
    MessageStream: creds.messageStream ?? DEFAULT_MESSAGE_STREAM,
  };
  return {
    url: `${base(route.baseUrl ?? defaultBaseUrl("postmark"))}/email`,
    method: "POST",
    headers: { "x-postmark-server-token": creds.serverToken, accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** Postmark's API error codes that decide more than the HTTP status does. */
export const POSTMARK_ERRORS = {
  maintenance: 100,
  notAllowedToSend: 405,
  inactiveRecipient: 406,
  accountMayNotSend: 413,
} as const;

/**
 * 200 `{MessageID, ErrorCode: 0}`; errors `{ErrorCode, Message}`, mostly 422. ErrorCode 406:
 * the recipient is inactive (a hard bounce, complaint or manual suppression on Postmark's side),
 * so the message is refused for that address; 405/413: the account may not send at all (out of
 * credits, or stopped), which is the route's fault, not the message's; 100: maintenance.
 */
export function outcome(status: number, headers: Headers, body: unknown): SendOutcome {
  const json = record(body);
  const code = typeof json.ErrorCode === "number" ? json.ErrorCode : undefined;
  if (status >= 200 && status < 300) return accepted(status, text(json.MessageID));
  const error = { error: (text(json.Message) ?? plain(body))?.slice(0, 1024), errorCode: code };
  if (code === POSTMARK_ERRORS.inactiveRecipient) return suppressed(status, error);
  if (code === POSTMARK_ERRORS.notAllowedToSend || code === POSTMARK_ERRORS.accountMayNotSend)
    return retryNotSubmitted(status, headers, "route_auth", error, "the Postmark account may not send");
  if (code === POSTMARK_ERRORS.maintenance) return retryNotSubmitted(status, headers, "route_down", error);
  return refusal(status, headers, error);
}
