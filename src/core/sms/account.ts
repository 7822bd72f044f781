/**
 * One account's SMS setup (secret SMS_CONFIG: JSON of account id → this): its ordered routes,
 * the senders it owns (numbers, short codes, alphanumeric ids: MO and DLRs addressed to them
 * are its own), and the opt-out keywords and replies its recipients get.
 */
import { z } from "zod";
import { accountConfigs } from "../account-config.ts";
import type { OutcomeDetail } from "../outcome.ts";

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

export const smsRoute = z.discriminatedUnion("type", [smppRoute, restRoute]);
export type SmsRoute = z.infer<typeof smsRoute>;

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

function parseAll(json: string | undefined): ReadonlyMap<string, SmsAccountConfig> {
  return accountConfigs(json, smsAccountConfig);
}

export function accountSmsConfig(json: string | undefined, account: string): SmsAccountConfig | null {
  return parseAll(json).get(account) ?? null;
}

/** Senders compare without the `+` and spaces: SMSCs write international numbers without it. */
export function senderKey(address: string): string {
  return address.replace(/[\s+]/g, "").toLowerCase();
}

/** Whether this account may send SMS from this sender, and over the route type asked for. */
export function smsSenderAllowed(
  json: string | undefined,
  account: string,
  from: string,
  route?: "smpp" | "rest",
): "ok" | "no_config" | "sender" | "route" {
  const config = accountSmsConfig(json, account);
  if (!config) return "no_config";
  if (!config.senders.some((s) => senderKey(s) === senderKey(from))) return "sender";
  if (route && !config.routes.some((r) => r.type === route)) return "route";
  return "ok";
}

/**
 * Whose number an MO or receipt was addressed to. Falls back to the accounts using the bridge
 * route it came in on, when exactly one does (an SMSC may rewrite the address).
 */
export function accountForAddress(json: string | undefined, address: string, bridgeRoute?: string): string | null {
  const all = [...parseAll(json)];
  const key = senderKey(address);
  const owner = all.find(([, config]) => config.senders.some((s) => senderKey(s) === key));
  if (owner) return owner[0];
  if (bridgeRoute === undefined) return null;
  const users = all.filter(([, config]) => config.routes.some((r) => r.type === "smpp" && (r.bridgeRoute ?? r.name) === bridgeRoute));
  return users.length === 1 ? users[0]![0] : null;
}

export function routeByName(config: SmsAccountConfig, name: string): SmsRoute | null {
  return config.routes.find((r) => r.name === name) ?? null;
}

/**
 * The routes a message may take, in order: all of them, or only those of the type it asked
 * for, or only the one it is pinned to (a route that may already have submitted it: a
 * message is never submitted on two routes).
 */
export function candidateRoutes(config: SmsAccountConfig, wanted?: "smpp" | "rest", pinned?: string): SmsRoute[] {
  if (pinned !== undefined) {
    const route = routeByName(config, pinned);
    return route ? [route] : [];
  }
  return config.routes.filter((r) => wanted === undefined || r.type === wanted);
}

/**
 * The route an event pins its message to: the one that took it (`accepted`) or may have
 * (`submitted: "maybe"`). From then on candidateRoutes offers that route alone.
 */
export function pinnedRoute(type: string, detail: Pick<OutcomeDetail, "route" | "submitted">): string | null {
  return detail.route !== undefined && (type === "accepted" || detail.submitted === "maybe") ? detail.route : null;
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
