// The providers' webhook senders (provider-webhooks.ts) on the control server: SNS's own two
// URLs, and the control routes that make the sandbox post a provider's webhook.
//   GET  /sns/SimpleNotificationService-sandbox.pem     SNS's signing certificate (a message's SigningCertURL)
//   GET  /sns/confirm?Action=ConfirmSubscription&TopicArn=…&Token=…   a SubscriptionConfirmation's SubscribeURL
//        -> 200 <ConfirmSubscriptionResponse> for a token this SNS issued for that topic, else 400 (SNS's InvalidParameter)
//   GET  /sns/unsubscribe?Action=Unsubscribe&SubscriptionArn=…        a Notification's UnsubscribeURL -> 200
//   GET  /_sandbox/webhooks/config         -> 200 {sendgrid: {webhookPublicKey}, ses: {topicArns}, mailgun: {webhookSigningKey},
//                                             postmark: {webhookUsername, webhookPassword}, resend: {webhookSecret},
//                                             standard: {webhookSecret, mapping}, vonage: {signatureSecret, signatureMethod}}
//                                             (each exactly the body for lasthop's PUT /v1/providers/{provider})
//   PUT  /_sandbox/webhooks/target  {workerUrl, account, smsSender?}  -> 200 the target: where emit posts by default
//   GET  /_sandbox/webhooks/target         -> 200 the target, or 404 when none is set
//   DELETE /_sandbox/webhooks/target       -> 204; no target: the email simulators post no webhooks
//   POST /_sandbox/webhooks/emit    {provider, event, recipient, url?, providerMessageId?, lasthopId?, text?, sender?}
//        -> 200 {url, status, body, payload}: the receiver's status and body, and the payload as sent
//           (400 for an unknown provider or event, 502 when the receiver could not be reached)
//        events: delivered, bounce (hard), soft_bounce, deferred, complaint, open, click; ses also subscribe;
//        vonage: delivered, bounce (err-code 3), soft_bounce (err-code 2), deferred (buffered), mo (text, default "STOP")
//   GET  /_sandbox/webhooks/ses/confirmations  -> 200 [{topicArn, token, at}]
//   GET  /_sandbox/webhooks/stats          -> 200 {sent, confirmations}
//   GET  /_sandbox/webhooks/sent[?provider=] -> 200 [{at, provider, event, recipient, providerMessageId, lasthopId, status, attempts}],
//        oldest first (the last 10,000; status null until the receiver answered, or when it could not be reached)
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { error, readJsonInput, type Route } from "./control.ts";
import { sendJson } from "./http.ts";
import {
  EmitInputError,
  eventsOf,
  isWebhookProvider,
  SNS_CERT_PATH,
  SNS_CONFIRM_PATH,
  SNS_UNSUBSCRIBE_PATH,
  WEBHOOK_PROVIDERS,
  type EmitInput,
  type ProviderWebhooks,
  type WebhookEvent,
} from "./provider-webhooks.ts";

const OPTIONAL_STRINGS = ["url", "providerMessageId", "lasthopId", "text", "sender"] as const;

export function providerWebhookRoutes(webhooks: ProviderWebhooks): Route[] {
  return [
    {
      method: "GET",
      path: SNS_CERT_PATH,
      handle: (_req, res) => {
        const pem = webhooks.certificatePem;
        res.writeHead(200, { "content-type": "application/x-x509-ca-cert", "content-length": Buffer.byteLength(pem) });
        res.end(pem);
      },
    },
    {
      method: "GET",
      path: SNS_CONFIRM_PATH,
      handle: (_req, res, url) => {
        const params = url.searchParams;
        const topicArn = params.get("TopicArn") ?? "";
        const token = params.get("Token") ?? "";
        if (params.get("Action") !== "ConfirmSubscription" || !webhooks.confirmSubscription(topicArn, token)) {
          return sendXml(
            res,
            400,
            `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid token</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
          );
        }
        sendXml(
          res,
          200,
          `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>${escapeXml(`${topicArn}:${randomUUID()}`)}</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>`,
        );
      },
    },
    {
      method: "GET",
      path: SNS_UNSUBSCRIBE_PATH,
      handle: (_req, res) =>
        sendXml(
          res,
          200,
          `<UnsubscribeResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></UnsubscribeResponse>`,
        ),
    },
    { method: "GET", path: "/_sandbox/webhooks/config", handle: (_req, res) => sendJson(res, 200, webhooks.config()) },
    {
      method: "GET",
      path: "/_sandbox/webhooks/target",
      handle: (_req, res) => {
        const target = webhooks.target;
        if (!target) return error(res, 404, "no_target", "no default target: PUT /_sandbox/webhooks/target {workerUrl, account}");
        sendJson(res, 200, target);
      },
    },
    {
      method: "PUT",
      path: "/_sandbox/webhooks/target",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { workerUrl, account, smsSender } = input;
        if (typeof workerUrl !== "string" || !URL.canParse(workerUrl) || typeof account !== "string") {
          return error(res, 400, "invalid_target", "workerUrl must be a URL and account a string");
        }
        if (smsSender !== undefined && typeof smsSender !== "string")
          return error(res, 400, "invalid_target", "smsSender must be a string");
        try {
          sendJson(res, 200, webhooks.setTarget({ workerUrl, account, ...(smsSender !== undefined ? { smsSender } : {}) }));
        } catch (cause) {
          error(res, 400, "invalid_target", (cause as Error).message);
        }
      },
    },
    {
      method: "DELETE",
      path: "/_sandbox/webhooks/target",
      handle: (_req, res) => {
        webhooks.clearTarget();
        res.writeHead(204).end();
      },
    },
    {
      method: "POST",
      path: "/_sandbox/webhooks/emit",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const parsed = emitInput(input);
        if (typeof parsed === "string") return error(res, 400, "invalid_emit", parsed);
        let result: Awaited<ReturnType<ProviderWebhooks["emit"]>>;
        try {
          result = await webhooks.emit(parsed);
        } catch (cause) {
          if (cause instanceof EmitInputError) return error(res, 400, "invalid_emit", cause.message);
          const reason = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
          return error(res, 502, "receiver_unreachable", `could not post the ${parsed.provider} webhook: ${reason}`);
        }
        sendJson(res, 200, result);
      },
    },
    { method: "GET", path: "/_sandbox/webhooks/ses/confirmations", handle: (_req, res) => sendJson(res, 200, webhooks.confirmations) },
    {
      method: "GET",
      path: "/_sandbox/webhooks/sent",
      handle: (_req, res, url) => {
        const provider = url.searchParams.get("provider");
        if (provider !== null && !isWebhookProvider(provider))
          return error(res, 400, "unknown_provider", `provider must be one of ${WEBHOOK_PROVIDERS.join(", ")}`);
        sendJson(res, 200, provider === null ? webhooks.log : webhooks.log.filter((sent) => sent.provider === provider));
      },
    },
    {
      method: "GET",
      path: "/_sandbox/webhooks/stats",
      handle: (_req, res) => sendJson(res, 200, { sent: webhooks.sent, confirmations: webhooks.confirmations.length }),
    },
  ];
}

/** The emit body as EmitInput, or what is wrong with it. */
function emitInput(input: Record<string, unknown>): EmitInput | string {
  const { provider, event, recipient } = input;
  if (!isWebhookProvider(provider)) return `provider must be one of ${WEBHOOK_PROVIDERS.join(", ")}`;
  const events = eventsOf(provider);
  if (typeof event !== "string" || !events.includes(event as WebhookEvent))
    return `event must be one of ${events.join(", ")} for ${provider}`;
  if (typeof recipient !== "string" || recipient.trim() === "") return "recipient must be a non-empty string";
  const parsed: EmitInput = { provider, event: event as WebhookEvent, recipient: recipient.trim() };
  for (const name of OPTIONAL_STRINGS) {
    const value = input[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value === "") return `${name} must be a non-empty string when given`;
    parsed[name] = value;
  }
  return parsed;
}

function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml) });
  res.end(xml);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
