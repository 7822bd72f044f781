/**
 * The configuration sections (src/api/settings.ts): one shape for all. GET answers the section
 * with its secrets masked (`…` and the last characters); PUT validates and replaces it (a secret
 * sent back masked, as a read showed it, keeps the stored one); DELETE removes it.
 */
import { z } from "zod";
import { vapidRequest } from "../../core/api-requests.ts";
import { providerNames, providerSections, sections } from "../../core/config/sections.ts";
import { shownSection } from "../../core/config/shown.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const MASKED = "Secrets are shown masked; a masked value sent back unchanged keeps the stored secret.";

/** A section's request schema (what PUT validates) and its answer's (secrets masked). */
type Section = { schema: z.ZodType; shown: z.ZodType };

function sectionRoutes(path: string, tag: string, what: string, { schema, shown }: Section, params?: z.ZodObject): ApiRoute[] {
  const common = { path, tag, auth: "apiKey" as const, ...(params ? { params } : {}) };
  return [
    {
      ...common,
      method: "get",
      summary: `Read ${what}`,
      description: MASKED,
      responses: { 200: { description: "the section, secrets masked", schema: shown } },
      errors: [404],
    },
    {
      ...common,
      method: "put",
      summary: `Replace ${what}`,
      description: `${MASKED} 422 secret_masked: a masked value that matches no stored secret.`,
      body: schema,
      responses: { 200: { description: "the section as stored, secrets masked", schema: shown } },
      errors: [...JSON_BODY_ERRORS, 404, 422],
    },
    {
      ...common,
      method: "delete",
      summary: `Delete ${what}`,
      responses: { 204: { description: "deleted" } },
      errors: [404],
    },
  ];
}

const section = (name: string, id: string): Section => ({
  schema: sections[name]!.meta({ id }),
  shown: shownSection(name, sections[name]!).meta({ id: `${id}Shown` }),
});
const webpush = section("webpush", "WebPushSettings");

type Union = [z.ZodType, z.ZodType, ...z.ZodType[]];
/** One provider's section; which one the path names. */
const providerSection: Section = {
  schema: z
    .union(providerNames.map((name) => providerSections[name]) as unknown as Union)
    .meta({ id: "ProviderSettings", description: "the section of the provider the path names (its credentials and webhook secrets)" }),
  shown: z
    .union(providerNames.map((name) => shownSection(`provider:${name}`, providerSections[name])) as unknown as Union)
    .meta({ id: "ProviderSettingsShown", description: "the provider's section, secrets masked" }),
};

export const settingsRoutes: ApiRoute[] = [
  ...sectionRoutes("/v1/email/settings", "Configuration", "the email settings", section("email", "EmailSettings")),
  ...sectionRoutes("/v1/sms/settings", "Configuration", "the SMS settings", section("sms", "SmsSettings")),
  ...sectionRoutes("/v1/push/apns", "Configuration", "the APNs credentials", section("apns", "ApnsSettings")),
  ...sectionRoutes("/v1/push/fcm", "Configuration", "the FCM credentials", section("fcm", "FcmSettings")),
  ...sectionRoutes("/v1/push/webpush", "Configuration", "the VAPID key pair", webpush),
  ...sectionRoutes(
    "/v1/email/delivery",
    "Configuration",
    "the IP pools, warm-up and destination throttles",
    section("delivery", "DeliverySettings"),
  ),
  ...sectionRoutes("/v1/email/tracking", "Configuration", "open and click tracking", section("tracking", "TrackingSettings")),
  ...sectionRoutes("/v1/retention", "Configuration", "the retention policy", section("retention", "RetentionSettings")),
  ...sectionRoutes(
    "/v1/providers/{provider}",
    "Configuration",
    "a provider's credentials",
    providerSection,
    z.object({ provider: z.enum(providerNames) }),
  ),
  {
    method: "post",
    path: "/v1/push/webpush/keys",
    tag: "Configuration",
    summary: "Generate a VAPID key pair",
    description: "Made here; the answer's `publicKey` is the one to give the browser's PushManager.subscribe.",
    auth: "apiKey",
    body: vapidRequest,
    responses: { 201: { description: "the web push section, private key masked", schema: webpush.shown } },
    errors: [...JSON_BODY_ERRORS, 422],
  },
];
