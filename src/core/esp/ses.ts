/**
 * Amazon SES v2 SendEmail (POST /v2/email/outbound-emails, SigV4 service "ses"): the relay's
 * own MIME bytes as Raw content, so SES sends what the relay would; our id as the message tag
 * `lasthop_id` (event publishing echoes tags in `mail.tags`). Signing needs the clock and
 * crypto, so the channel sender does it; this builds the unsigned request.
 */
import { toBase64, utf8 } from "../bytes.ts";
import type { Sections } from "../config/sections.ts";
import type { EspRoute } from "../email-routes.ts";
import { defaultBaseUrl } from "../email-routes.ts";
import type { SendOutcome } from "../outcome.ts";
import { OUR_ID_KEY } from "../provider-event.ts";
import {
  accepted,
  base,
  type EspRequest,
  metadataPairs,
  plain,
  record,
  refusal,
  retryNotSubmitted,
  safeTags,
  TAG_PAIR_LIMITS,
  text,
} from "./answer.ts";
import type { EspMessage } from "./message.ts";

type Section = Sections["provider:ses"];
export type SesCreds = Required<Pick<Section, "accessKeyId" | "secretAccessKey">> & Pick<Section, "region" | "configurationSet">;
type Route = Extract<EspRoute, { type: "ses" }>;

export const DEFAULT_SES_REGION = "us-east-1";
/** A tag without a value of its own: SES requires one, from the same alphabet. */
const TAG_PRESENT = "true";

export function region(creds: Pick<SesCreds, "region">): string {
  return creds.region ?? DEFAULT_SES_REGION;
}

export function request(message: EspMessage, route: Route, creds: SesCreds): EspRequest {
  const tags = [
    { Name: OUR_ID_KEY, Value: message.id },
    ...safeTags(message.request.tags, OUR_ID_KEY).map((tag) => ({ Name: tag, Value: TAG_PRESENT })),
  ];
  // Metadata whose keys and values are already in the tag alphabet rides as tags too (SES: ≤ 50 tags).
  for (const [Name, Value] of metadataPairs(message.request.metadata, OUR_ID_KEY, { ...TAG_PAIR_LIMITS, maxPairs: 50 - tags.length })) {
    if (!tags.some((t) => t.Name === Name)) tags.push({ Name, Value });
  }
  const body = {
    FromEmailAddress: message.request.from,
    Destination: { ToAddresses: [message.request.to] },
    Content: { Raw: { Data: toBase64(utf8(message.raw)) } },
    EmailTags: tags,
    ...(creds.configurationSet ? { ConfigurationSetName: creds.configurationSet } : {}),
  };
  return {
    url: `${base(route.baseUrl ?? defaultBaseUrl("ses", region(creds)))}/v2/email/outbound-emails`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** Errors SES v2 answers with 400 that say the account, not the message, cannot send now. */
const ACCOUNT_CANNOT_SEND: ReadonlySet<string> = new Set(["AccountSuspendedException", "SendingPausedException"]);

/**
 * 200 `{MessageId}`; errors carry their type in `x-amzn-ErrorType` (or `__type`) and a
 * `message`. MessageRejected is a refusal of this message: SES documents it for invalid content
 * (and an unverified recipient in the SES sandbox); real SES does not refuse a suppressed
 * recipient at send time, it accepts and reports a bounce (OnAccountSuppressionList).
 */
export function outcome(status: number, headers: Headers, body: unknown): SendOutcome {
  const json = record(body);
  if (status >= 200 && status < 300) return accepted(status, text(json.MessageId));
  const errorType = errorTypeOf(headers.get("x-amzn-errortype") ?? text(json.__type) ?? text(json.code));
  const error = { error: (text(json.message) ?? text(json.Message) ?? plain(body))?.slice(0, 1024), errorCode: errorType };
  if (errorType !== undefined && ACCOUNT_CANNOT_SEND.has(errorType))
    return retryNotSubmitted(status, headers, "route_auth", error, "the SES account may not send (suspended or paused)");
  // A quota SES counts per account (LimitExceededException): busy, not broken; nothing was sent.
  if (errorType === "LimitExceededException" || errorType === "TooManyRequestsException" || errorType === "ThrottlingException")
    return retryNotSubmitted(status, headers, "throttled", error);
  return refusal(status, headers, error);
}

/** `MessageRejected:http://internal.amazon.com/…` or `com.amazonaws…#MessageRejected` → `MessageRejected`. */
function errorTypeOf(value: string | undefined): string | undefined {
  const type = value?.split(":")[0]?.split("#").pop()?.trim();
  return type || undefined;
}
