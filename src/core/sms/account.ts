/**
 * One account's SMS setup (its `sms` configuration section; `SMS_CONFIG` seeds it): its ordered routes,
 * the senders it owns (numbers, short codes, alphanumeric ids: MO and DLRs addressed to them
 * are its own), and the opt-out keywords and replies its recipients get.
 */
import { z } from "zod";
import { vonageRoute } from "./vonage.ts";

/** A route carried by an SMPP route of the bridge (its SMPP_ROUTES name). */
export const smppRoute = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  type: z.literal("smpp"),
  /** The bridge's route name; default: the same name. */
  bridgeRoute: z.string().min(1).max(64).optional(),
});

/** A Twilio-compatible Messages API (Twilio itself, or an aggregator that speaks it). */
export const restRoute = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  type: z.literal("rest"),
  /** The API origin (and base path), e.g. https://api.twilio.com. */
  baseUrl: z.url({ protocol: /^https?$/ }),
  accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, "must be AC followed by 32 hex digits"),
  authToken: z.string().min(16),
});

export const smsRoute = z.discriminatedUnion("type", [smppRoute, restRoute, vonageRoute]);
export type SmsRoute = z.infer<typeof smsRoute>;
export type SmsRouteType = SmsRoute["type"];

/** What a handset gets back for STOP, START and HELP unless the account says otherwise. */
const DEFAULT_REPLIES = {
  stop: "You are unsubscribed and will get no more messages from this number. Reply START to resubscribe.",
  start: "You are resubscribed. Reply STOP to unsubscribe.",
  help: "Reply STOP to unsubscribe, START to resubscribe. Msg & data rates may apply.",
};

const keywordList = z.array(z.string().trim().min(1).max(32)).min(1);

export const smsAccountConfig = z.strictObject({
  /** Tried in order; a route that is down passes its messages to the next. */
  routes: z
    .array(smsRoute)
    .min(1)
    .refine((routes) => new Set(routes.map((r) => r.name)).size === routes.length, "route names must be unique"),
  /** What `from` may be; the numbers MO messages and receipts come back to. */
  senders: z.array(z.string().min(1).max(20)).min(1),
  keywords: z.strictObject({ stop: keywordList.optional(), start: keywordList.optional(), help: keywordList.optional() }).default({}),
  replies: z
    .strictObject({
      stop: z.string().min(1).max(320).default(DEFAULT_REPLIES.stop),
      start: z.string().min(1).max(320).default(DEFAULT_REPLIES.start),
      help: z.string().min(1).max(320).default(DEFAULT_REPLIES.help),
    })
    .default(DEFAULT_REPLIES),
});
export type SmsAccountConfig = z.infer<typeof smsAccountConfig>;

/** Senders compare without the `+` and spaces: SMSCs write international numbers without it. */
export function senderKey(address: string): string {
  return address.replace(/[\s+]/g, "").toLowerCase();
}

/** Whether this account may send SMS from this sender, and over the route type asked for. */
export function smsSenderAllowed(
  config: SmsAccountConfig | undefined,
  from: string,
  route?: SmsRouteType,
): "ok" | "no_config" | "sender" | "route" {
  if (!config) return "no_config";
  if (!config.senders.some((s) => senderKey(s) === senderKey(from))) return "sender";
  if (route && !config.routes.some((r) => r.type === route)) return "route";
  return "ok";
}

/**
 * What an account's SMS section claims in the platform directory, so an MO or a receipt
 * (which names a number and a bridge route, never an account) finds its owner.
 */
export function smsClaims(config: SmsAccountConfig | undefined): Array<{ kind: "sms_sender" | "sms_bridge_route"; value: string }> {
  if (!config) return [];
  return [
    ...config.senders.map((s) => ({ kind: "sms_sender" as const, value: senderKey(s) })),
    ...config.routes.flatMap((r) => (r.type === "smpp" ? [{ kind: "sms_bridge_route" as const, value: r.bridgeRoute ?? r.name }] : [])),
  ];
}

/**
 * Whose number an MO or receipt was addressed to: the one account that owns the sender, or,
 * when none or several do, the one account among them using the bridge route it came in on
 * (an SMSC may rewrite the address). Anything ambiguous is nobody's.
 */
export function accountForAddress(senderOwners: readonly string[], routeUsers: readonly string[] | null): string | null {
  if (senderOwners.length === 1) return senderOwners[0]!;
  if (routeUsers === null) return null;
  const candidates = senderOwners.length > 1 ? routeUsers.filter((a) => senderOwners.includes(a)) : routeUsers;
  return candidates.length === 1 ? candidates[0]! : null;
}

export function routeByName(config: SmsAccountConfig, name: string): SmsRoute | null {
  return config.routes.find((r) => r.name === name) ?? null;
}

/**
 * The routes a message may take, in order: all of them, or only those of the type it asked
 * for, or only the one it is pinned to (a route that may already have submitted it: a
 * message is never submitted on two routes).
 */
export function candidateRoutes(config: SmsAccountConfig, wanted?: SmsRouteType, pinned?: string): SmsRoute[] {
  if (pinned !== undefined) {
    const route = routeByName(config, pinned);
    return route ? [route] : [];
  }
  return config.routes.filter((r) => wanted === undefined || r.type === wanted);
}

/**
 * The suppression key of an opt-out: STOP silences one sender for one recipient (the number
 * they texted), not every sender of the account. `recipient:sender`; neither can hold a colon.
 */
export function optOutKey(recipient: string, sender: string): string {
  return `${recipient}:${sender}`;
}

export function isOptOutKey(key: string): boolean {
  return /^\+[1-9]\d{6,14}:[A-Za-z0-9 +]{1,20}$/.test(key);
}
