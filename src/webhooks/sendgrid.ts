/**
 * SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over the bytes of
 * `timestamp + rawBody`, the signature base64 DER in `X-Twilio-Email-Event-Webhook-Signature`,
 * the Unix timestamp in `X-Twilio-Email-Event-Webhook-Timestamp`, checked with the account's
 * verification key (base64 DER SubjectPublicKeyInfo, as SendGrid shows it).
 */
import { z } from "zod";
import { fromBase64, utf8 } from "../core/bytes.ts";
import { OUR_ID_KEY, type NormalizeContext, type NormalizeResult } from "../core/provider-event.ts";
import { bounceDetail, clip, collect, enhancedCode, smtpCodeIn, invalid, type Draft } from "../core/esp/events.ts";

export const SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
export const TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
export const TOLERANCE_SECONDS = 5 * 60;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** `now` is in milliseconds, as `Date.now()`; tests pass their own. */
export async function verify(input: { headers: Headers; rawBody: string; publicKey: string; now?: number }): Promise<VerifyResult> {
  const signature = input.headers.get(SIGNATURE_HEADER);
  const timestamp = input.headers.get(TIMESTAMP_HEADER);
  if (!signature) return { ok: false, reason: "missing_signature" };
  if (!timestamp) return { ok: false, reason: "missing_timestamp" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed_timestamp" };
  const now = input.now ?? Date.now();
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };

  const key = await importPublicKey(input.publicKey);
  if (!key) return { ok: false, reason: "bad_key" };
  const raw = rawSignature(signature);
  if (!raw) return { ok: false, reason: "malformed_signature" };
  // The header string is signed as sent, so it is concatenated, never reformatted.
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, utf8(timestamp + input.rawBody));
  return ok ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/** The key as SendGrid shows it (bare base64 DER); PEM armour, if pasted with it, is dropped. */
async function importPublicKey(publicKey: string): Promise<CryptoKey | null> {
  const body = publicKey.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  try {
    // importKey refuses an SPKI of any other curve or algorithm than the one named.
    return await crypto.subtle.importKey("spki", fromBase64(body), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch {
    return null;
  }
}

/** A base64 DER ECDSA signature as the 64-byte r||s WebCrypto verifies; null when malformed. */
export function rawSignature(signature: string): Uint8Array<ArrayBuffer> | null {
  let der: Uint8Array;
  try {
    der = fromBase64(signature.trim());
  } catch {
    return null;
  }
  return derToRaw(der);
}

/**
 * DER `SEQUENCE { INTEGER r, INTEGER s }` to r||s, each left-padded to 32 bytes. An integer
 * whose high bit is set carries a leading 0x00 (33 bytes); a small one is shorter than 32.
 * A P-256 signature is at most 72 bytes, so every length is in DER's one-byte short form.
 */
export function derToRaw(der: Uint8Array): Uint8Array<ArrayBuffer> | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(64);
  let at = 2;
  for (const offset of [0, 32]) {
    if (der[at] !== 0x02) return null;
    const length = der[at + 1] ?? 0;
    const start = at + 2;
    const end = start + length;
    if (length < 1 || length > 33 || end > der.length) return null;
    // A set high bit without a 0x00 before it is a negative integer: no ECDSA r or s is.
    if ((der[start] ?? 0) & 0x80) return null;
    let first = start;
    while (first < end - 1 && der[first] === 0) first++;
    if (end - first > 32) return null;
    out.set(der.subarray(first, end), offset + 32 - (end - first));
    at = end;
  }
  return at === der.length ? out : null;
}

/*
 * normalize: the Event Webhook's body is a JSON array of events, one recipient each
 * (twilio.com/docs/sendgrid/for-developers/tracking-events/event). Custom args come back
 * flattened among SendGrid's own keys, so ours is `event.lasthop_id`.
 */

const text = z.union([z.string(), z.number()]).transform(String);

const sendgridEvent = z.looseObject({
  event: z.string().min(1),
  email: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  sg_event_id: text.optional(),
  sg_message_id: z.string().optional(),
  "smtp-id": z.string().optional(),
  reason: z.string().optional(),
  status: text.optional(),
  response: z.string().optional(),
  type: z.string().optional(),
  attempt: text.optional(),
  bounce_classification: z.string().optional(),
  url: z.string().optional(),
  useragent: z.string().optional(),
  ip: z.string().optional(),
  sg_machine_open: z.boolean().optional(),
  asm_group_id: text.optional(),
});
type SendgridEvent = z.infer<typeof sendgridEvent>;

/**
 * Drop reasons that mean the address is on one of SendGrid's suppression lists (bounces,
 * unsubscribes, spam reports, invalid emails); the other documented ones (Invalid SMTPAPI
 * header, Spam Content, Recipient List over Package Quota) are a failure of the message.
 */
export const SUPPRESSION_DROP_REASONS: ReadonlySet<string> = new Set([
  "bounced address",
  "unsubscribed address",
  "spam reporting address",
  "invalid",
  "invalid address",
]);

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const batch = z.array(z.unknown()).safeParse(body);
  if (!batch.success) return invalid(batch.error);
  return collect("sendgrid", ctx, batch.data, (item) => {
    const parsed = sendgridEvent.safeParse(item);
    // One bad event must not refuse the batch: SendGrid would retry all of it, forever.
    if (!parsed.success) return { providerType: eventName(item), draft: { skip: "malformed" } };
    const event = parsed.data;
    const mapped = mapEvent(event);
    if ("skip" in mapped) return { providerType: event.event, draft: mapped };
    const draft: Draft = {
      ...mapped,
      recipient: event.email,
      providerMessageId: xMessageId(event.sg_message_id, event["smtp-id"]),
      eventId: event.sg_event_id,
      stable: [event.sg_message_id, event.event, event.type, event.reason, String(event.timestamp ?? "")],
      time: event.timestamp,
      ours: event[OUR_ID_KEY],
    };
    return { providerType: mapped.detail.providerType as string, draft };
  });
}

function mapEvent(event: SendgridEvent): Pick<Draft, "type" | "detail"> | { skip: string } {
  const name = event.event;
  switch (name) {
    case "processed":
      return { type: "accepted", detail: { providerType: name } };
    case "dropped": {
      const suppressed = SUPPRESSION_DROP_REASONS.has((event.reason ?? "").trim().toLowerCase());
      return {
        type: suppressed ? "suppressed" : "failed",
        detail: { providerType: name, providerReason: clip(event.reason), status: event.status },
      };
    }
    case "deferred":
      return {
        type: "deferred",
        detail: {
          providerType: name,
          diagnostic: clip(event.response),
          smtpCode: smtpCodeIn(event.response),
          attempt: count(event.attempt),
        },
      };
    case "bounce": {
      // `type` tells a bounce (permanent) from a block (temporary); the docs' own sample omits it.
      const blocked = event.type === "blocked";
      return {
        type: "bounced",
        detail: {
          providerType: `bounce:${blocked ? "blocked" : "bounce"}`,
          ...bounceDetail({
            enhancedCode: enhancedCode(event.status),
            diagnostic: event.reason,
            permanent: !blocked,
            recipient: event.email,
          }),
          bounceClassification: event.bounce_classification,
        },
      };
    }
    case "delivered":
      return { type: "delivered", detail: { providerType: name, response: clip(event.response) } };
    case "open":
      return {
        type: "opened",
        detail: { providerType: name, userAgent: clip(event.useragent), ip: event.ip, machineOpen: event.sg_machine_open || undefined },
      };
    case "click":
      return {
        type: "clicked",
        detail: { providerType: name, url: clip(event.url, 2048), userAgent: clip(event.useragent), ip: event.ip },
      };
    case "spamreport":
      return { type: "complained", detail: { providerType: name, feedbackType: "abuse" } };
    case "unsubscribe":
      return { type: "unsubscribed", detail: { providerType: name } };
    // An unsubscribe group (ASM) is one kind of mail: the address still wants the rest.
    case "group_unsubscribe":
      return { type: "unsubscribed", detail: { providerType: name, group: event.asm_group_id ?? "unknown" } };
    case "group_resubscribe":
      return { type: "resubscribed", detail: { providerType: name, group: event.asm_group_id ?? "unknown" } };
    case "account_status_change":
      return { skip: "not_a_message_event" };
    default:
      return { skip: "unknown_type" };
  }
}

/**
 * The X-Message-Id the Mail Send API answered with: `sg_message_id` is it plus SendGrid's
 * routing suffix (".filter…", ".stfilter…", ".recvd-…"), and ids of 2015 and before hold dots
 * of their own ("14c5d75ce93.dfd.64b469.filter0001…"), so the suffix is cut, not the first
 * dot. An asynchronous bounce has no sg_message_id; smtp-id's local part is the same id then.
 */
export function xMessageId(sgMessageId: string | undefined, smtpId?: string): string | undefined {
  if (sgMessageId) return /^(.+?)\.(?:[a-z]*filter|recvd-)/i.exec(sgMessageId)?.[1] ?? sgMessageId.split(".")[0];
  return /^<?([^@<>\s]+)@/.exec(smtpId?.trim() ?? "")?.[1];
}

function count(value: string | undefined): number | undefined {
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

function eventName(item: unknown): string {
  const name = item && typeof item === "object" ? (item as Record<string, unknown>).event : undefined;
  return typeof name === "string" ? name : "(unknown)";
}
