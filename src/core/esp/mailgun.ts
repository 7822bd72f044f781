/**
 * Mailgun messages.mime (POST /v3/{domain}/messages.mime, Basic api:<key>): the relay's own
 * MIME bytes as the `message` file part, so Mailgun sends what the relay would; our id as the
 * user variable `v:lasthop_id` (events echo it in `user-variables`). Mailgun takes no
 * idempotency key either: an ambiguous failure pins the message to this route.
 */
import type { Sections } from "../config/sections.ts";
import type { EspRoute } from "../email-routes.ts";
import { defaultBaseUrl } from "../email-routes.ts";
import type { SendOutcome } from "../outcome.ts";
import { OUR_ID_KEY } from "../provider-event.ts";
import { accepted, base, type EspRequest, metadataPairs, plain, record, refusal, text } from "./answer.ts";
import type { EspMessage } from "./message.ts";

export type MailgunCreds = Required<Pick<Sections["provider:mailgun"], "apiKey" | "domain">>;
type Route = Extract<EspRoute, { type: "mailgun" }>;

/** Mailgun takes at most 3 tags per message, each at most 128 ASCII characters. */
const MAX_TAGS = 3;
const MAX_TAG_LENGTH = 128;
/** Mailgun keeps a message's user variables under 4 KB: 10 of ≤ 64 + ≤ 300 stay under it. */
const VARIABLE_LIMITS = { maxPairs: 10, maxKey: 64, maxValue: 300 };

export function request(message: EspMessage, route: Route, creds: MailgunCreds): EspRequest {
  const form = new FormData();
  form.append("to", message.request.to);
  form.append("message", new Blob([message.raw], { type: "message/rfc822" }), "message.mime");
  form.append(`v:${OUR_ID_KEY}`, message.id);
  for (const [key, value] of metadataPairs(message.request.metadata, OUR_ID_KEY, VARIABLE_LIMITS)) form.append(`v:${key}`, value);
  const tags = [...new Set((message.request.tags ?? []).map((tag) => tag.replace(/[^\x20-\x7e]/g, "_").slice(0, MAX_TAG_LENGTH)))];
  for (const tag of tags.slice(0, MAX_TAGS)) form.append("o:tag", tag);
  return {
    url: `${base(route.baseUrl ?? defaultBaseUrl("mailgun"))}/v3/${encodeURIComponent(creds.domain)}/messages.mime`,
    method: "POST",
    // No content-type: fetch writes multipart/form-data with its boundary.
    headers: { authorization: `Basic ${btoa(`api:${creds.apiKey}`)}`, accept: "application/json" },
    body: form,
  };
}

/**
 * 200 `{id: "<…@domain>", message: "Queued. Thank you."}`: the id is the Message-ID Mailgun
 * gave the message, which its events carry without the angle brackets (the webhook adapter
 * strips them), so the brackets go here too. Errors: `{message}`, or plain "Forbidden" (401).
 */
export function outcome(status: number, headers: Headers, body: unknown): SendOutcome {
  const json = record(body);
  if (status >= 200 && status < 300)
    return accepted(
      status,
      text(json.id)
        ?.trim()
        .replace(/^<(.*)>$/, "$1") || undefined,
    );
  return refusal(status, headers, { error: (text(json.message) ?? plain(body))?.slice(0, 1024) });
}
