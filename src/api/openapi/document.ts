/**
 * The OpenAPI 3.1 document of the whole HTTP surface, generated from the route lists of this
 * folder (each built from the zod schemas the handlers validate with). Served at /openapi.json
 * (built once per isolate), written to docs/openapi.json by `npm run openapi`.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { adminRoutes } from "./admin.ts";
import { apiKeyRoutes } from "./api-keys.ts";
import { appRoutes } from "./app.ts";
import { domainRoutes } from "./domains.ts";
import { registerEvents } from "./events.ts";
import { messageRoutes } from "./messages.ts";
import { registerRoutes, type ApiRoute } from "./registry.ts";
import { settingsRoutes } from "./settings.ts";
import { readRoutes } from "./stats.ts";
import { suppressionRoutes } from "./suppressions.ts";
import { trackingRoutes } from "./tracking.ts";
import { templateRoutes } from "./templates.ts";
import { unsubscribeRoutes } from "./unsubscribe.ts";
import { webhookEndpointRoutes } from "./webhook-endpoints.ts";
import { webhookRoutes } from "./webhooks.ts";

/** Every route the document describes; a new group's list joins here. */
export const apiRoutes: readonly ApiRoute[] = [
  ...appRoutes,
  ...messageRoutes,
  ...suppressionRoutes,
  ...readRoutes,
  ...settingsRoutes,
  ...domainRoutes,
  ...apiKeyRoutes,
  ...webhookEndpointRoutes,
  ...templateRoutes,
  ...adminRoutes,
  ...webhookRoutes,
  ...unsubscribeRoutes,
  ...trackingRoutes,
];

const STANDARD =
  "Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`)";

/** How each door authenticates. OpenAPI has no scheme for a signed body: these name the header that carries it and say the rest. */
const securitySchemes = {
  apiKey: {
    type: "http",
    scheme: "bearer",
    description:
      "An account's API key (`Authorization: Bearer lh_…`). Each operation names the scope it needs (`x-scopes`): reads need `read`, writes their own.",
  },
  adminKey: {
    type: "http",
    scheme: "bearer",
    description: "The platform admin key (`Authorization: Bearer <ADMIN_API_KEY>`), compared in constant time.",
  },
  bridgeSignature: {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description: `${STANDARD}, under the door's key: HMAC of WEBHOOK_SECRET and the route's path, so a body signed for one door is refused at every other.`,
  },
  twilioSignature: {
    type: "apiKey",
    in: "header",
    name: "X-Twilio-Signature",
    description: "Base64 HMAC-SHA1 of the full URL and the sorted POST parameters, under the REST route's auth token.",
  },
  sendgridSignature: {
    type: "apiKey",
    in: "header",
    name: "X-Twilio-Email-Event-Webhook-Signature",
    description:
      "SendGrid's signed event webhook: ECDSA P-256 over `X-Twilio-Email-Event-Webhook-Timestamp` + body, checked with the section's `webhookPublicKey`.",
  },
  snsSignature: {
    type: "apiKey",
    in: "header",
    name: "x-amz-sns-message-type",
    description:
      "Amazon SNS (SES notifications): the body carries its own signature (v1 SHA1 or v2 SHA256) and SigningCertURL; the topic must be one of the section's `topicArns` and the certificate an SNS host's.",
  },
  mailgunSignature: {
    type: "apiKey",
    in: "header",
    name: "content-type",
    description:
      "Mailgun: the JSON body's `signature` {timestamp, token, signature}, HMAC-SHA256 under the section's `webhookSigningKey`; each token is taken once.",
  },
  postmarkBasic: {
    type: "http",
    scheme: "basic",
    description: "Postmark: HTTP Basic credentials set in the webhook's URL, the section's `webhookUsername` and `webhookPassword`.",
  },
  svixSignature: {
    type: "apiKey",
    in: "header",
    name: "svix-signature",
    description:
      "Resend (Svix): Standard Webhooks under `svix-id`, `svix-timestamp`, `svix-signature`, with the section's `webhookSecret`.",
  },
  standardWebhooksSignature: {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description: `${STANDARD}, with the section's \`webhookSecret\`.`,
  },
  vonageSignature: {
    type: "apiKey",
    in: "query",
    name: "sig",
    description:
      "Vonage signed callbacks: `sig` over the sorted parameters (md5hash, or HMAC md5/sha1/sha256/sha512) with the section's `signatureSecret`; `timestamp` within 5 minutes.",
  },
} as const;

export function buildDocument() {
  const registry = new OpenAPIRegistry();
  for (const [name, scheme] of Object.entries(securitySchemes)) registry.registerComponent("securitySchemes", name, scheme);
  registerRoutes(registry, apiRoutes);
  registerEvents(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "lasthop",
      version: "1",
      description:
        "Edge transport for email, push, browser push and SMS. Every error answers `{error:{code,message,details}}` (the Error schema). The `webhooks` are the events lasthop POSTs to an account's endpoints.",
    },
    servers: [{ url: "/" }],
  });
}

let cached: ReturnType<typeof buildDocument> | undefined;

/** The document, generated once per isolate. */
export function openApiDocument() {
  cached ??= buildDocument();
  return cached;
}
