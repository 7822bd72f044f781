/**
 * The edge ⇄ bridge contract: what a batch request carries and what comes back, one
 * schema for both sides (Standard Webhooks signatures wrap both directions).
 */
import { z } from "zod";

export const apnsItem = z.strictObject({
  id: z.uuid(),
  token: z.string().regex(/^(?:[0-9a-fA-F]{2}){32,100}$/),
  topic: z.string().min(1),
  pushType: z.string().min(1),
  priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).optional(),
  expiration: z.number().int().min(0).optional(),
  collapseId: z.string().optional(),
  payload: z.record(z.string(), z.unknown()),
  sandbox: z.boolean().optional(),
});

export const apnsBatch = z.strictObject({ items: z.array(apnsItem).min(1).max(1000) });
export type ApnsBatch = z.infer<typeof apnsBatch>;

/** One item's outcome: the shape of `SendOutcome` plus the item id. */
export const itemResult = z.strictObject({
  id: z.string(),
  kind: z.enum(["accepted", "bounced", "failed", "retry"]),
  retryAfter: z.number().optional(),
  detail: z.record(z.string(), z.unknown()),
});
export const batchResults = z.strictObject({ results: z.array(itemResult) });
export type BatchResults = z.infer<typeof batchResults>;

export const BRIDGE_APNS_PATH = "/v1/apns/send";

/** How the bridge reaches the receiving MTA for an account: MX lookup, or a configured smarthost. */
export const smtpRelay = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("direct") }),
  z.strictObject({
    mode: z.literal("smarthost"),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** true: implicit TLS (465); false: STARTTLS, required unless `requireTLS` is false (dev only). */
    secure: z.boolean(),
    requireTLS: z.boolean().default(true),
    auth: z.strictObject({ user: z.string(), pass: z.string() }).optional(),
  }),
]);
export type SmtpRelay = z.infer<typeof smtpRelay>;

export const dkimKey = z.strictObject({
  domain: z.string().min(1),
  selector: z.string().min(1),
  privateKey: z.string().includes("PRIVATE KEY"),
  algorithm: z.enum(["rsa-sha256", "ed25519-sha256"]).default("rsa-sha256"),
});
export type DkimKey = z.infer<typeof dkimKey>;

/** One message for the SMTP relay: the envelope is separate from the headers in `raw`. */
export const smtpItem = z.strictObject({
  id: z.uuid(),
  account: z.string().min(1),
  /** MAIL FROM: the VERP return-path bounce+<id>@<bounce domain>. */
  mailFrom: z.string().min(3),
  /** RCPT TO: the one recipient. */
  rcptTo: z.string().min(3),
  /** The RFC 5322 message as composed at the edge (CRLF line ends), before DKIM. */
  raw: z.string().min(1),
  dkim: dkimKey.optional(),
  relay: smtpRelay,
});
export const smtpBatch = z.strictObject({ items: z.array(smtpItem).min(1).max(200) });
export type SmtpBatch = z.infer<typeof smtpBatch>;

export const BRIDGE_SMTP_PATH = "/v1/smtp/send";
