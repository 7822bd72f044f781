/**
 * Email pure parts: per-account sending configuration, the VERP return-path, header
 * rules, and the signed one-click unsubscribe token (RFC 8058).
 */
import { z } from "zod";
import { utf8 } from "./bytes.ts";
import { dkimKey, smtpRelay } from "./bridge.ts";
import { returnPathHost } from "./domains.ts";
import { emailRouting, routingIssues } from "./email-routes.ts";
import { signToken, verifyToken } from "./signed-token.ts";

/** One account's email setup (its `email` configuration section; `EMAIL_CONFIG` seeds it). */
export const emailAccountConfig = z
  .strictObject({
    /** Domains the account may put in From: besides its verified `/v1/domains`. */
    sendingDomains: z.array(z.string().min(1).max(253)).max(1000).default([]),
    /** The domain of the VERP return-path; its MX (or Email Routing) brings bounces back to us. */
    bounceDomain: z.string().min(1),
    dkim: dkimKey.optional(),
    relay: smtpRelay,
    /** The sender id part of Feedback-ID (Gmail's aggregate complaint data). */
    feedbackSenderId: z
      .string()
      .regex(/^[\w.-]+$/)
      .default("lasthop"),
    ...emailRouting,
  })
  .superRefine((config, ctx) => {
    for (const issue of routingIssues(config)) ctx.addIssue({ code: "custom", ...issue });
  });
export type EmailAccountConfig = z.infer<typeof emailAccountConfig>;

/** The domain of an address, lower-cased; an envelope address may keep its closing `>`. */
export function domainOf(address: string): string {
  return address
    .slice(address.lastIndexOf("@") + 1)
    .replace(/>$/, "")
    .toLowerCase();
}

/** Whether this account may send email from this address (422 otherwise): a listed or a verified domain. */
export function emailSenderAllowed(
  config: EmailAccountConfig | undefined,
  verifiedDomains: readonly string[],
  from: string,
): "ok" | "no_config" | "domain" {
  if (!config) return "no_config";
  const domain = domainOf(from);
  return [...config.sendingDomains, ...verifiedDomains].some((d) => d.toLowerCase() === domain) ? "ok" : "domain";
}

/**
 * The domain of a message's envelope sender (MAIL FROM): for mail From one of the account's
 * verified domains, that domain's return-path host `lh-bounces.<domain>`, so SPF passes for a
 * domain aligned with From (DMARC, RFC 7489 §3.1.2, relaxed); for any other From, the account's
 * bounce domain.
 */
export function envelopeDomain(from: string, verifiedDomains: readonly string[], bounceDomain: string): string {
  const domain = domainOf(from);
  return verifiedDomains.some((d) => d.toLowerCase() === domain) ? returnPathHost(domain) : bounceDomain;
}

/** The per-message envelope sender: a DSN sent to it names the message even with every header stripped. */
export function verpAddress(messageId: string, bounceDomain: string): string {
  return `bounce+${messageId}@${bounceDomain}`;
}

/** The message id in a VERP address, or null. */
export function messageIdFromVerp(address: string): string | null {
  return /^bounce\+([0-9a-f-]{36})@/i.exec(address.trim().replace(/^<|>$/g, ""))?.[1]?.toLowerCase() ?? null;
}

/** Headers the platform writes itself; a send may not set them (they decide routing, identity and signatures). */
export const reservedHeaders: ReadonlySet<string> = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "return-path",
  "sender",
  "reply-to",
  "received",
  "dkim-signature",
  "list-unsubscribe",
  "list-unsubscribe-post",
  "feedback-id",
  "x-lasthop-message-id",
]);

/** RFC 5322 §2.2: a field name is printable ASCII except colon. */
export const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

export function hasLineBreak(value: string): boolean {
  return /[\r\n]/.test(value);
}

/** Whether a message gets List-Unsubscribe: as asked, else on unless tagged transactional. */
export function wantsListUnsubscribe(listUnsubscribe: boolean | undefined, tags: readonly string[] | undefined): boolean {
  return listUnsubscribe ?? !(tags ?? []).includes("transactional");
}

export type UnsubscribeClaim = { account: string; recipient: string; messageId: string };

/** `<payload>.<mac>` (core/signed-token.ts): the link carries who unsubscribes from what, and proves we wrote it. */
export function signUnsubscribeToken(secret: string, claim: UnsubscribeClaim): Promise<string> {
  return signToken(secret, "", [claim.account, claim.recipient, claim.messageId]);
}

/** The claim of a token we signed, or null for anything forged, truncated or tampered with. */
export async function verifyUnsubscribeToken(secret: string, token: string): Promise<UnsubscribeClaim | null> {
  const value = await verifyToken(secret, "", token, 3);
  if (!value?.every((v) => typeof v === "string")) return null;
  const [account, recipient, messageId] = value as [string, string, string];
  return { account, recipient, messageId };
}

/** Base64 with CRLF every 76 characters (RFC 2045 §6.8). */
export function base64Lines(text: string): string {
  let binary = "";
  for (const b of utf8(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/.{76}(?=.)/g, "$&\r\n");
}

/** 7bit is honest only for ASCII with lines of at most 998 octets (RFC 5322 §2.1.1). */
export function fitsSevenBit(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text) && text.split(/\r?\n/).every((line) => line.length <= 998);
}
