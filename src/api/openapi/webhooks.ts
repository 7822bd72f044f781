/**
 * The signed doors feedback comes in by: the bridge and Twilio (src/api/webhooks.ts), the
 * providers' own webhooks (provider-webhooks.ts), the bridge's inbound mail and SMS (inbound.ts).
 */
import { z } from "zod";
import { INBOUND_EMAIL_BATCH_MAX, inboundEmailBatchRequest, inboundEmailRequest } from "../../core/api-requests.ts";
import {
  eventsAccepted,
  inboundEmailBatchResponse,
  inboundEmailResponse,
  inboundSmsResponse,
  providerWebhookResponse,
} from "../../core/api-responses.ts";
import { smsInbound, stsPolicyAnswer, stsPolicyExchange, tlsSessionBatch, tlsSessionBatchAnswer } from "../../core/bridge.ts";
import { providerNames } from "../../core/config/sections.ts";
import { eventBatch } from "../../core/schema.ts";
import { JSON_BODY_ERRORS, type ApiRoute, type SignedScheme } from "./registry.ts";

/** The Standard Webhooks headers every bridge door takes (the signature scheme is the bridge's). */
const standardHeaders = z.object({
  "webhook-id": z.string().describe("unique per delivery"),
  "webhook-timestamp": z.string().describe("Unix seconds; refused beyond 5 minutes"),
  "webhook-signature": z.string().describe("`v1,<base64 HMAC-SHA256>` under the door's key"),
});

const BRIDGE = "Signed by the bridge with the door's key (derived from WEBHOOK_SECRET and this path): 401 and nothing read otherwise.";

/** Which scheme authenticates each provider's webhooks. */
const providerSchemes: Record<(typeof providerNames)[number], SignedScheme> = {
  sendgrid: "sendgridSignature",
  ses: "snsSignature",
  mailgun: "mailgunSignature",
  postmark: "postmarkBasic",
  resend: "svixSignature",
  standard: "standardWebhooksSignature",
  vonage: "vonageSignature",
};

const providerParams = z.object({
  provider: z.enum(providerNames),
  account: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/)
    .describe("the account whose provider section verifies the webhook (never read from the body)"),
});
const PROVIDER =
  "The provider's own webhook, for mail and SMS lasthop sent or not. 404 unless the account configured the provider; the body (≤ 1 MiB) is verified by the provider's own scheme before anything of it is believed (401, nothing recorded); then normalized (400 if it is not the provider's shape) and enqueued.";

export const webhookRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/v1/webhooks/bridge",
    tag: "Signed doors",
    summary: "Canonical events from the bridge",
    description: `${BRIDGE} Enqueued and answered before they are applied.`,
    auth: ["bridgeSignature"],
    headers: standardHeaders,
    body: eventBatch,
    responses: { 202: { description: "enqueued", schema: eventsAccepted } },
    errors: [...JSON_BODY_ERRORS],
  },
  {
    method: "post",
    path: "/v1/webhooks/twilio",
    tag: "Signed doors",
    summary: "Twilio-compatible status callbacks and inbound SMS",
    description:
      "Status callbacks carry `?account&route&message`, inbound SMS `?account&route`; X-Twilio-Signature over the full URL and the sorted POST parameters is checked against the route's auth token first.",
    auth: ["twilioSignature"],
    query: z.object({
      account: z.string(),
      route: z.string().describe("the account's REST SMS route"),
      message: z.string().optional().describe("our message id (status callbacks)"),
    }),
    body: {
      contentType: "application/x-www-form-urlencoded",
      schema: z.record(z.string(), z.string()).describe("Twilio's parameters: MessageStatus, or From, To, Body and MessageSid"),
    },
    responses: {
      204: { description: "a status callback, enqueued" },
      200: { description: "an inbound SMS, recorded: an empty TwiML answer (no reply)", schema: z.string(), contentType: "text/xml" },
    },
    errors: [400, 413],
  },
  {
    method: "post",
    path: "/v1/webhooks/{provider}/{account}",
    tag: "Signed doors",
    summary: "A provider's webhook",
    description: PROVIDER,
    auth: providerNames.map((p) => providerSchemes[p]),
    params: providerParams,
    body: {
      contentType: "application/json",
      schema: z.unknown().describe("the provider's own body (Vonage also as a form)"),
    },
    responses: {
      200: { description: "events enqueued, or an SNS handshake answered", schema: providerWebhookResponse },
      204: { description: "Vonage inbound SMS, taken" },
    },
    errors: [400, 404, 413, 502],
  },
  {
    method: "get",
    path: "/v1/webhooks/{provider}/{account}",
    tag: "Signed doors",
    summary: "Vonage's webhook as a GET",
    description: "Vonage may send its signed parameters as a query; every other provider answers 405.",
    auth: ["vonageSignature"],
    params: providerParams,
    responses: {
      200: { description: "a receipt, enqueued", schema: providerWebhookResponse },
      204: { description: "an inbound SMS, taken" },
    },
    errors: [400, 404, 405],
  },
  {
    method: "post",
    path: "/v1/inbound/email",
    tag: "Signed doors",
    summary: "Inbound mail from the bridge's SMTP server",
    description: `${BRIDGE} One message per recipient, or a batch of them (\`messages\`, at most ${INBOUND_EMAIL_BATCH_MAX}: one result each, in order, enqueued together), up to 16 MiB. 422 not_ours (in a batch, that message's result) makes the bridge answer 550; anything else but 202 makes it 451, so the sender retries.`,
    auth: ["bridgeSignature"],
    headers: standardHeaders,
    body: z.union([inboundEmailRequest, inboundEmailBatchRequest]),
    responses: { 202: { description: "parsed and enqueued", schema: z.union([inboundEmailResponse, inboundEmailBatchResponse]) } },
    errors: [...JSON_BODY_ERRORS, 422],
  },
  {
    method: "post",
    path: "/v1/inbound/sms",
    tag: "Signed doors",
    summary: "A deliver_sm from the bridge's SMPP binds",
    description: `${BRIDGE} A delivery receipt or an MO message; 422 not_ours when no account owns the sender.`,
    auth: ["bridgeSignature"],
    headers: standardHeaders,
    body: smsInbound,
    responses: { 202: { description: "taken", schema: inboundSmsResponse } },
    errors: [...JSON_BODY_ERRORS, 422],
  },
  {
    method: "post",
    path: "/v1/inbound/tls",
    tag: "Signed doors",
    summary: "TLS-RPT sessions from the bridge",
    description: `${BRIDGE} The bridge's direct SMTP sessions under MTA-STS policies, batched (at most 500), for the daily RFC 8460 reports. Each policy domain's object counts a batch id once a day, so the bridge posts a batch again when it lost the answer.`,
    auth: ["bridgeSignature"],
    headers: standardHeaders,
    body: tlsSessionBatch,
    responses: { 202: { description: "counted", schema: tlsSessionBatchAnswer } },
    errors: [...JSON_BODY_ERRORS],
  },
  {
    method: "post",
    path: "/v1/inbound/mta-sts",
    tag: "Signed doors",
    summary: "The bridges' shared MTA-STS policy cache",
    description: `${BRIDGE} \`{domain}\` reads a recipient domain's latest fetched policy (null when none or expired); \`{domain, policy}\` offers one a bridge just fetched (kept when fetched later than the one held).`,
    auth: ["bridgeSignature"],
    headers: standardHeaders,
    body: stsPolicyExchange,
    responses: { 200: { description: "the live policy, or null", schema: stsPolicyAnswer } },
    errors: [...JSON_BODY_ERRORS],
  },
];
