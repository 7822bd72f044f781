/**
 * Amazon SNS message signatures (SES events arrive through SNS), the pure half, following
 * "Verifying the signatures of Amazon SNS messages" (docs.aws.amazon.com/sns/latest/dg/
 * sns-verify-signature-of-message.html). The caller, in order:
 *  1. checks `certUrlAllowed(message.SigningCertURL)` before fetching anything;
 *  2. fetches (and caches) that PEM certificate;
 *  3. calls `verify(message, { certificatePem, topicArns })`, which checks the topic, the
 *     certificate URL again and the signature.
 */
import { importX509 } from "jose";
import { z } from "zod";
import { fromBase64, utf8 } from "../core/bytes.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";

/** Regional SNS endpoints, China's included; anchored so `sns.x.amazonaws.com.evil.com` fails. */
export const SNS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

const common = {
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(["1", "2"]),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
};

export const snsMessage = z.discriminatedUnion("Type", [
  z.object({ Type: z.literal("Notification"), Subject: z.string().nullish(), ...common }),
  z.object({
    Type: z.enum(["SubscriptionConfirmation", "UnsubscribeConfirmation"]),
    SubscribeURL: z.string().min(1),
    Token: z.string().min(1),
    ...common,
  }),
]);
export type SnsMessage = z.infer<typeof snsMessage>;

/** The signed fields in byte order of their names, each as `name\nvalue\n`. */
export function stringToSign(message: SnsMessage): string {
  const fields: Array<[string, string | null | undefined]> =
    message.Type === "Notification"
      ? [
          ["Message", message.Message],
          ["MessageId", message.MessageId],
          // Signed only when the message has one.
          ["Subject", message.Subject],
          ["Timestamp", message.Timestamp],
          ["TopicArn", message.TopicArn],
          ["Type", message.Type],
        ]
      : [
          ["Message", message.Message],
          ["MessageId", message.MessageId],
          ["SubscribeURL", message.SubscribeURL],
          ["Timestamp", message.Timestamp],
          ["Token", message.Token],
          ["TopicArn", message.TopicArn],
          ["Type", message.Type],
        ];
  return fields
    .filter((field): field is [string, string] => typeof field[1] === "string")
    .map(([name, value]) => `${name}\n${value}\n`)
    .join("");
}

/** https, an SNS host, no credentials or port, a `.pem` path: where AWS serves signing certificates. */
export function certUrlAllowed(url: string, hostPattern: RegExp = SNS_CERT_HOST): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === "https:" &&
    !parsed.username &&
    !parsed.password &&
    !parsed.port &&
    hostPattern.test(parsed.hostname) &&
    parsed.pathname.endsWith(".pem")
  );
}

/**
 * Where an SNS message may send us (a certificate to fetch, a subscription to confirm): no
 * credentials; the origin SNS's own (https, an SNS host, no port) unless `originPattern` says
 * otherwise (the local sandbox); a certificate's path ends `.pem`.
 */
export function snsUrlAllowed(url: string, kind: "cert" | "subscribe", originPattern?: RegExp): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  if (kind === "cert" && !parsed.pathname.endsWith(".pem")) return false;
  if (originPattern) return originPattern.test(parsed.origin);
  return parsed.protocol === "https:" && !parsed.port && SNS_CERT_HOST.test(parsed.hostname);
}

export function topicAllowed(arn: string, topicArns: readonly string[]): boolean {
  return topicArns.includes(arn);
}

/**
 * The certificate's RSA public key for one hash. jose's importX509 finds the key in the
 * certificate (no parser of ours), but knows no SHA-1 algorithm, so the key is re-imported.
 */
async function publicKey(certificatePem: string, hash: "SHA-1" | "SHA-256"): Promise<CryptoKey> {
  const key = await importX509(certificatePem.trim(), "RS256", { extractable: true });
  const spki = await crypto.subtle.exportKey("spki", key);
  return crypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash }, false, ["verify"]);
}

export type SnsVerifyOptions = {
  /** The PEM certificate fetched from the message's SigningCertURL. */
  certificatePem: string;
  /** The topics this endpoint subscribed to; any other is refused. */
  topicArns: readonly string[];
  /** The certificate URL rule; `certUrlAllowed` (SNS's own hosts) unless the caller has its own. */
  certUrlAllowed?: (url: string) => boolean;
};

/** `body` is the parsed JSON of the request. */
export async function verify(body: unknown, options: SnsVerifyOptions): Promise<VerifyResult> {
  const parsed = snsMessage.safeParse(body);
  if (!parsed.success) return { ok: false, reason: "malformed_message" };
  const message = parsed.data;
  if (!topicAllowed(message.TopicArn, options.topicArns)) return { ok: false, reason: "unknown_topic" };
  if (!(options.certUrlAllowed ?? certUrlAllowed)(message.SigningCertURL)) return { ok: false, reason: "cert_url_not_allowed" };
  let key: CryptoKey;
  try {
    key = await publicKey(options.certificatePem, message.SignatureVersion === "1" ? "SHA-1" : "SHA-256");
  } catch {
    return { ok: false, reason: "bad_certificate" };
  }
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = fromBase64(message.Signature);
  } catch {
    return { ok: false, reason: "malformed_signature" };
  }
  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, utf8(stringToSign(message)));
  return valid ? { ok: true } : { ok: false, reason: "bad_signature" };
}
