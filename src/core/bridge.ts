/**
 * The edge ⇄ bridge contract: what a batch request carries and what comes back, one
 * schema for both sides (Standard Webhooks signatures wrap both directions). Each path
 * below is a door: requests to it are signed with its own key (`doorSecret`).
 */
import { z } from "zod";
import { providerTokenIds } from "./apns-token.ts";
import { STS_MAX_AGE_LIMIT } from "./mta-sts.ts";
import { TLS_RPT_RESULT_TYPES } from "./tls-rpt.ts";
import { outcomeWith, type SendOutcome } from "./outcome.ts";

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
  /** Index into the batch's `credentials`: the account's own key signs this item. Absent: the bridge's own key (APNS_KEY). */
  credential: z.number().int().min(0).optional(),
});

const appleId = z.string().regex(/^[A-Z0-9]{10}$/);
/**
 * An account's APNs credential as it travels: the provider token the edge minted (TokenDO) and
 * the team and key it names. The key itself never leaves the edge; the bridge keeps the token
 * only as long as the batch that carried it, and opens separate HTTP/2 sessions per team and key.
 */
export const apnsCredential = z
  .strictObject({
    teamId: appleId,
    keyId: appleId,
    token: z
      .string()
      .regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, "a compact JWS")
      .max(2048),
  })
  .superRefine((credential, ctx) => {
    const ids = providerTokenIds(credential.token);
    if (!ids || ids.keyId !== credential.keyId || ids.teamId !== credential.teamId) {
      ctx.addIssue({ code: "custom", path: ["token"], message: "the token's kid and iss must be the credential's keyId and teamId" });
    }
  });
export type ApnsCredential = z.infer<typeof apnsCredential>;

export const apnsBatch = z
  .strictObject({ items: z.array(apnsItem).min(1).max(1000), credentials: z.array(apnsCredential).max(1000).optional() })
  .superRefine((batch, ctx) => {
    const count = batch.credentials?.length ?? 0;
    batch.items.forEach((item, i) => {
      if (item.credential !== undefined && item.credential >= count) {
        ctx.addIssue({ code: "custom", path: ["items", i, "credential"], message: `no credential ${item.credential} in this batch` });
      }
    });
  });
export type ApnsBatch = z.infer<typeof apnsBatch>;

/** One item's outcome: a `SendOutcome` and the item's id. */
export const itemResult = outcomeWith({ id: z.string() });
export type ItemResult = z.infer<typeof itemResult>;

/** What the bridge answers for one item: its outcome, with `retryAfter` only where one was given. */
export function itemResultOf(id: string, outcome: SendOutcome): ItemResult {
  if (outcome.kind !== "retry") return { id, kind: outcome.kind, detail: outcome.detail };
  return { id, kind: "retry", ...(outcome.retryAfter !== undefined ? { retryAfter: outcome.retryAfter } : {}), detail: outcome.detail };
}
export const batchResults = z.strictObject({ results: z.array(itemResult) });
export type BatchResults = z.infer<typeof batchResults>;

export const BRIDGE_APNS_PATH = "/v1/apns/send";

/**
 * Which channels this deployment's bridge serves (BRIDGE_CHANNELS, comma-separated). A
 * `BRIDGE` binding (a Container Durable Object) reaches it as well as a BRIDGE_URL does.
 */
export function bridgeServes(settings: { BRIDGE_URL?: string; BRIDGE_CHANNELS?: string }, channel: string): boolean {
  return (
    bridgeReachable(settings) &&
    (settings.BRIDGE_CHANNELS ?? "")
      .split(",")
      .map((c) => c.trim())
      .includes(channel)
  );
}

/** Whether the edge has a bridge at all: a BRIDGE_URL, or the `BRIDGE` Container binding. */
export function bridgeReachable(settings: { BRIDGE_URL?: string }): boolean {
  return Boolean(settings.BRIDGE_URL) || "BRIDGE" in settings;
}

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
  /**
   * The DKIM key, or keys: a verified domain (`/v1/domains`) signs with RSA and Ed25519 both
   * (RFC 8463 §1: RSA for verifiers that do not know Ed25519). One key stays a single object,
   * so an edge and a bridge of different versions agree on it during a rollout.
   */
  dkim: z.union([dkimKey, z.array(dkimKey).min(1).max(4)]).optional(),
  relay: smtpRelay,
  /**
   * The source address to bind outbound SMTP to: the address the account's IP pool and its
   * warm-up picked (src/state/pool.ts). Absent: the bridge's own. The bridge answers `retry`
   * (reason `connection`) when it cannot bind it, so mail never leaves from another address.
   */
  sourceAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  /**
   * Hold the message this long before sending it: its slot under the destination's throttle
   * (src/core/throttle.ts dates grants up to HOLD_MS ahead), so a batch's messages leave at the rate.
   */
  holdMs: z.number().int().min(1).max(10_000).optional(),
  /**
   * A TLS-RPT report mail (RFC 8460 §3): delivered despite any TLS failure, so without the
   * recipient domain's MTA-STS policy (opportunistic TLS), and its session not reported.
   */
  tlsReport: z.literal(true).optional(),
});
export const smtpBatch = z.strictObject({ items: z.array(smtpItem).min(1).max(200) });
export type SmtpBatch = z.infer<typeof smtpBatch>;

export const BRIDGE_SMTP_PATH = "/v1/smtp/send";

/**
 * One SMS for an SMPP route of the bridge. The bridge encodes and segments the body itself
 * (src/core/sms), so the edge's segment count and the SMSC's parts come from one function.
 */
export const smppItem = z.strictObject({
  id: z.uuid(),
  /** The name of a route in the bridge's SMPP_ROUTES. */
  route: z.string().min(1).max(64),
  /** source_addr: E.164, a short code or an alphanumeric sender id. */
  from: z.string().min(1).max(20),
  /** destination_addr, E.164 (sent without the leading +, TON international). */
  to: z.string().regex(/^\+[1-9]\d{6,14}$/),
  body: z.string().min(1).max(1600),
  /** The concatenation UDH reference number, fixed per message so a retry reuses it. */
  reference: z.number().int().min(0).max(255),
});
export const smppBatch = z.strictObject({ items: z.array(smppItem).min(1).max(500) });
export type SmppBatch = z.infer<typeof smppBatch>;

export const BRIDGE_SMPP_PATH = "/v1/smpp/send";

/** DLR `stat:` words (SMPP 3.4 Appendix B) and the message_state TLV's names for them. */
export const dlrStats = ["ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"] as const;
export type DlrStat = (typeof dlrStats)[number];

/**
 * What the bridge posts to the edge (`EDGE_SMS_INBOUND_PATH`, Standard Webhooks-signed) for each
 * deliver_sm it receives; it answers deliver_sm_resp only after the edge's 2xx.
 */
export const smsDeliveryReceipt = z.strictObject({
  kind: z.literal("dlr"),
  route: z.string().min(1).max(64),
  /** The SMSC's id of the submitted part, in canonical form (`canonicalSmscId`). */
  smscId: z.string().min(1).max(128),
  stat: z.enum(dlrStats),
  /** The receipt's `err:` field or network_error_code, as given. */
  err: z.string().max(64).optional(),
  /** `done date` as ISO 8601 when the receipt had one. */
  doneAt: z.iso.datetime({ offset: true }).optional(),
  /** source_addr of the receipt: the handset the message went to. */
  from: z.string().max(32),
  /** destination_addr of the receipt: our original sender. */
  to: z.string().max(32),
  /** The receipt text as received, for the timeline. */
  text: z.string().max(512).optional(),
});
export const smsMo = z.strictObject({
  kind: z.literal("mo"),
  route: z.string().min(1).max(64),
  /** The handset (source_addr), E.164 with + when it is a number. */
  from: z.string().min(1).max(32),
  /** Our number or short code it was sent to (destination_addr). */
  to: z.string().min(1).max(32),
  body: z.string().max(10_000),
  receivedAt: z.iso.datetime({ offset: true }),
});
export const smsInbound = z.discriminatedUnion("kind", [smsDeliveryReceipt, smsMo]);
export type SmsInbound = z.infer<typeof smsInbound>;

export const EDGE_SMS_INBOUND_PATH = "/v1/inbound/sms";

/** Where the bridge's inbound SMTP server hands the edge each message, one POST per recipient. */
export const EDGE_EMAIL_INBOUND_PATH = "/v1/inbound/email";

/**
 * One direct SMTP session under a policy, as the bridge posts it for TLS-RPT (RFC 8460): the
 * policy it was held to (`string` its lines, §4.4), and `success` or the §4.3 result type with
 * what the sender saw. Counts only: no message, no account, no recipient.
 */
export const tlsSessionReport = z.strictObject({
  policy: z.strictObject({
    type: z.enum(["sts", "no-policy-found"]),
    domain: z.string().min(1).max(253),
    string: z.array(z.string().max(1_000)).max(100).optional(),
    mxHost: z.array(z.string().max(253)).max(100).optional(),
  }),
  result: z.enum(["success", ...TLS_RPT_RESULT_TYPES]),
  sendingMtaIp: z.string().max(64).optional(),
  receivingMxHostname: z.string().max(253).optional(),
  receivingIp: z.string().max(64).optional(),
  additionalInformation: z.string().max(1_000).optional(),
  failureReasonCode: z.string().max(1_000).optional(),
});
export type TlsSessionReport = z.infer<typeof tlsSessionReport>;

/**
 * What the bridge posts to `EDGE_TLS_INBOUND_PATH`: sessions batched, with an id the bridge keeps
 * across its retries so the edge counts a batch once (each policy domain's object remembers the
 * batch ids of the day).
 */
export const tlsSessionBatch = z.strictObject({
  batchId: z.uuid(),
  sessions: z.array(tlsSessionReport).min(1).max(500),
});
export type TlsSessionBatch = z.infer<typeof tlsSessionBatch>;

/** The edge's answer: how many policy domains the batch had, and how many counted it now (0 for a batch seen). */
export const tlsSessionBatchAnswer = z.strictObject({ domains: z.number().int(), counted: z.number().int() });

export const EDGE_TLS_INBOUND_PATH = "/v1/inbound/tls";

/**
 * An MTA-STS policy as a cache keeps it (core/mta-sts.ts `CachedStsPolicy`): what the bridges
 * share through the edge, so a policy one of them fetched serves the others until it expires.
 */
export const cachedStsPolicy = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9]{1,32}$/),
    policy: z.strictObject({
      mode: z.enum(["enforce", "testing", "none"]),
      maxAge: z.number().int().min(0).max(STS_MAX_AGE_LIMIT),
      mx: z.array(z.string().min(1).max(253)).max(100),
    }),
    fetchedAt: z.number().int().nonnegative(),
    expiresAt: z.number().int().nonnegative(),
  })
  // A policy lasts its max_age from its fetch, never longer (what a cache may claim).
  .refine((c) => c.expiresAt <= c.fetchedAt + c.policy.maxAge * 1000, { message: "expiresAt is past fetchedAt + max_age" });

/**
 * `EDGE_MTA_STS_PATH`: `{domain}` asks for the shared policy of a recipient domain, `{domain,
 * policy}` offers one just fetched (kept when it is newer than what the edge has). Both answer
 * `{policy}`: the edge's live one, or null.
 */
export const stsPolicyExchange = z.strictObject({
  /** A DNS name: compared without case. */
  domain: z.string().min(1).max(253),
  policy: cachedStsPolicy.optional(),
});
export const stsPolicyAnswer = z.strictObject({ policy: cachedStsPolicy.nullable() });

export const EDGE_MTA_STS_PATH = "/v1/inbound/mta-sts";

/** Where canonical events reach the edge: from the bridge, or any Standard Webhooks sender given this door's key. */
export const EDGE_EVENTS_PATH = "/v1/webhooks/bridge";
