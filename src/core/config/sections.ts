/**
 * An account's configuration, section by section: one zod schema per section (the one
 * contract of its route and of its readers) and the paths of its secret fields. Secrets are
 * sealed at rest with the whole section and shown masked on every read.
 */
import { z } from "zod";
import { eventTypes } from "../model.ts";
import { emailAccountConfig } from "../email.ts";
import { serviceAccount } from "../google-oauth.ts";
import { smsAccountConfig } from "../sms/account.ts";
import { retentionSection } from "../retention.ts";
import { deliverySection } from "../ip-pools.ts";
import { trackingSection } from "../tracking.ts";
import { mask } from "./secrets.ts";

/** Email sending: the relay, the bounce domain, and domains besides the verified `/v1/domains`. */
export const emailSection = emailAccountConfig;

/** APNs token-based auth: a .p8 signing key of the team, and the app topics it may push to. */
export const apnsSection = z.strictObject({
  keyId: z.string().regex(/^[A-Z0-9]{10}$/, "Apple's key id: 10 upper-case letters or digits"),
  teamId: z.string().regex(/^[A-Z0-9]{10}$/, "Apple's team id: 10 upper-case letters or digits"),
  key: z.string().includes("PRIVATE KEY", { message: "the .p8 file's PEM text" }),
  topics: z.array(z.string().min(1).max(255)).min(1).max(100),
  environment: z.enum(["production", "sandbox"]).default("production"),
});

export const fcmSection = z.strictObject({ serviceAccount });

export const webpushSection = z.strictObject({
  subject: z.string().regex(/^(mailto:|https:)/, "a mailto: or https: URL (RFC 8292 §2.1)"),
  publicKey: z.string().regex(/^[\w-]{87}$/, "base64url uncompressed P-256 point"),
  privateKey: z.string().regex(/^[\w-]{43}$/, "base64url P-256 private scalar"),
});

const secret = z.string().min(1).max(4096);

/** A dotted path into a JSON body (`data.email_id`, `data.to.0`): digits index arrays. */
const jsonPath = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "a dotted path into the event, e.g. data.email_id");

/**
 * How a Standard Webhooks sender's events read as ours: where each canonical field is in
 * the body, and what its event types mean. The event id is the `webhook-id` header, which the
 * spec keeps the same on every retry.
 */
export const standardMapping = z.strictObject({
  type: jsonPath.default("type"),
  providerMessageId: jsonPath,
  recipient: jsonPath,
  occurredAt: jsonPath.default("timestamp"),
  /** Where the sender echoes lasthop's id, if it does. */
  messageId: jsonPath.optional(),
  /** A field whose value is "hard" or "soft" (or "permanent"/"transient") for bounces. */
  bounceClass: jsonPath.optional(),
  diagnostic: jsonPath.optional(),
  channel: z.enum(["email", "sms"]).default("email"),
  /**
   * Each sender type → a canonical type, or `{type, bounceClass}` for senders that say hard or
   * soft in the type's name (Loops' `email.hardBounced`) rather than in a field.
   */
  types: z
    .record(
      z.string().min(1).max(128),
      z.union([z.enum(eventTypes), z.strictObject({ type: z.enum(eventTypes), bounceClass: z.enum(["hard", "soft"]).optional() })]),
    )
    .refine((types) => Object.keys(types).length > 0 && Object.keys(types).length <= 100, "1 to 100 event types"),
});
export type StandardMapping = z.infer<typeof standardMapping>;
/** Each provider's credentials and webhook secrets; field names shared with the webhook adapters and ESP routes. */
export const providerSections = {
  sendgrid: z.strictObject({ webhookPublicKey: secret.optional(), apiKey: secret.optional() }),
  ses: z.strictObject({
    topicArns: z
      .array(z.string().regex(/^arn:aws:sns:[\w-]+:\d{12}:[\w-]+$/))
      .max(20)
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/)
      .optional(),
    accessKeyId: z.string().min(16).max(128).optional(),
    secretAccessKey: secret.optional(),
    configurationSet: z.string().min(1).max(64).optional(),
  }),
  mailgun: z.strictObject({ webhookSigningKey: secret.optional(), apiKey: secret.optional(), domain: z.string().min(1).optional() }),
  postmark: z.strictObject({
    webhookUsername: z.string().min(1).max(256).optional(),
    webhookPassword: secret.optional(),
    serverToken: secret.optional(),
    messageStream: z.string().min(1).max(64).optional(),
  }),
  resend: z.strictObject({ webhookSecret: secret.optional(), apiKey: secret.optional() }),
  standard: z.strictObject({ webhookSecret: secret, mapping: standardMapping }),
  vonage: z.strictObject({
    signatureSecret: secret.optional(),
    signatureMethod: z.enum(["md5hash", "md5", "sha1", "sha256", "sha512"]).optional(),
    apiKey: z.string().min(1).max(64).optional(),
    apiSecret: secret.optional(),
  }),
} as const;
export type ProviderName = keyof typeof providerSections;
export const providerNames = Object.keys(providerSections) as ProviderName[];

export const sections = {
  email: emailSection,
  sms: smsAccountConfig,
  apns: apnsSection,
  fcm: fcmSection,
  webpush: webpushSection,
  retention: retentionSection,
  delivery: deliverySection,
  tracking: trackingSection,
  ...Object.fromEntries(providerNames.map((name) => [`provider:${name}`, providerSections[name]])),
} as Record<string, z.ZodType>;
export type SectionName = "email" | "sms" | "apns" | "fcm" | "webpush" | "retention" | "delivery" | "tracking" | `provider:${ProviderName}`;
export type Sections = {
  email: z.infer<typeof emailSection>;
  sms: z.infer<typeof smsAccountConfig>;
  apns: z.infer<typeof apnsSection>;
  fcm: z.infer<typeof fcmSection>;
  webpush: z.infer<typeof webpushSection>;
  retention: z.infer<typeof retentionSection>;
  delivery: z.infer<typeof deliverySection>;
  tracking: z.infer<typeof trackingSection>;
} & { [P in ProviderName as `provider:${P}`]: z.infer<(typeof providerSections)[P]> };

/** The secret fields of each section, as dotted paths; `*` walks every element of an array. */
export const secretPaths: Record<string, readonly string[]> = {
  email: ["dkim.privateKey", "relay.auth.pass"],
  sms: ["routes.*.authToken", "routes.*.apiSecret", "routes.*.signatureSecret"],
  apns: ["key"],
  fcm: ["serviceAccount.private_key", "serviceAccount.private_key_id"],
  webpush: ["privateKey"],
  "provider:sendgrid": ["apiKey"],
  "provider:ses": ["secretAccessKey"],
  "provider:mailgun": ["webhookSigningKey", "apiKey"],
  "provider:postmark": ["webhookPassword", "serverToken"],
  "provider:resend": ["webhookSecret", "apiKey"],
  "provider:standard": ["webhookSecret"],
  "provider:vonage": ["signatureSecret", "apiSecret"],
};

type Visit = (value: string, set: (next: string) => void, location: string) => void;

/** Calls `visit` on every string at `path` in `doc` (mutating through `set`). */
function walk(doc: unknown, path: string[], visit: Visit, location = ""): void {
  if (doc === null || typeof doc !== "object") return;
  const [head, ...rest] = path;
  if (head === undefined) return;
  const keys = head === "*" ? (Array.isArray(doc) ? doc.map((_, i) => String(i)) : []) : [head];
  for (const key of keys) {
    if (!Object.hasOwn(doc, key)) continue;
    const holder = doc as Record<string, unknown>;
    const at = location ? `${location}.${key}` : key;
    if (rest.length === 0) {
      const value = holder[key];
      if (typeof value === "string") visit(value, (next) => (holder[key] = next), at);
    } else walk(holder[key], rest, visit, at);
  }
}

/** A copy of a section with every secret masked: what reads, answers and the audit log show. */
export function masked<T>(section: string, doc: T): T {
  const copy = structuredClone(doc);
  for (const path of secretPaths[section] ?? []) walk(copy, path.split("."), (value, set) => set(mask(value)));
  return copy;
}

/**
 * A write that sends back what a read showed (`…a1b2` for a secret) keeps the stored secret:
 * GET, edit one field, PUT works without re-entering every secret. Anything else replaces it.
 */
export function keepMaskedSecrets<T>(section: string, incoming: T, stored: unknown): T {
  const copy = structuredClone(incoming);
  if (stored === undefined || stored === null) return copy;
  const previous = new Map<string, string>();
  for (const path of secretPaths[section] ?? []) walk(stored, path.split("."), (value, _set, at) => previous.set(at, value));
  for (const path of secretPaths[section] ?? []) {
    walk(copy, path.split("."), (value, set, at) => {
      const old = previous.get(at);
      if (old !== undefined && value.startsWith("…") && value === mask(old)) set(old);
    });
  }
  return copy;
}

/** Whether any secret field still holds a mask (a write that would store `…a1b2` as a secret). */
export function maskedSecretPaths(section: string, doc: unknown): string[] {
  const found: string[] = [];
  for (const path of secretPaths[section] ?? []) walk(doc, path.split("."), (value, _set, at) => value.startsWith("…") && found.push(at));
  return found;
}
