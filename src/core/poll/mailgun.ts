/**
 * Polling Mailgun's Events API: `GET /v3/{domain}/events?message-id={id}` (the Message-ID the
 * messages API answered, without its angle brackets) with Basic `api:{apiKey}`, the
 * `provider:mailgun` section's key and domain, as the send path uses them. Its answer is
 * `{items: [event…], paging}`, each item the `event-data` its webhooks post, so each goes
 * through the webhook's own mapping (core/esp/mailgun-events.ts): a polled event and its
 * webhook have one id, and MessageDO.apply keeps one of them.
 */
import { z } from "zod";
import type { MailgunCreds } from "../esp/mailgun.ts";
import { mailgunEvents } from "../esp/mailgun-events.ts";
import type { DeliveryState } from "../model.ts";
import type { ProviderEvent } from "../provider-event.ts";
import { isTerminal, nextState } from "../state.ts";
import type { PollRequest } from "./twilio.ts";

/** The events of one message fit one page: Mailgun answers at most 300 per page. */
const PAGE_LIMIT = 300;

export function pollRequest(providerMessageId: string, baseUrl: string, creds: MailgunCreds): PollRequest {
  const base = baseUrl.replace(/\/+$/, "");
  const query = new URLSearchParams({ "message-id": providerMessageId, ascending: "yes", limit: String(PAGE_LIMIT) });
  return {
    url: `${base}/v3/${encodeURIComponent(creds.domain)}/events?${query}`,
    init: {
      method: "GET",
      // No redirects: a 3xx must not take our credentials elsewhere.
      redirect: "manual",
      headers: { authorization: `Basic ${btoa(`api:${creds.apiKey}`)}`, accept: "application/json" },
    },
  };
}

const eventsPage = z.looseObject({ items: z.array(z.unknown()).max(1000) });

export type MailgunPollContext = { account: string; messageId: string; providerMessageId: string; now: string };

/**
 * What one answer says: the events about this message (ours by its id, whatever the item
 * echoed), and whether they end its schedule (its state after them is terminal); or an error
 * that changes nothing (asked again next run). No items yet is "still in flight", not an error.
 */
export type MailgunPollResult =
  | { kind: "events"; events: ProviderEvent[]; final: boolean }
  | { kind: "error"; reason: string; status: number };

export async function normalizePoll(ctx: MailgunPollContext, httpStatus: number, body: unknown): Promise<MailgunPollResult> {
  if (httpStatus < 200 || httpStatus > 299) return { kind: "error", reason: `http_${httpStatus}`, status: httpStatus };
  const parsed = eventsPage.safeParse(body);
  if (!parsed.success) return { kind: "error", reason: "not_an_events_page", status: httpStatus };
  const read = await mailgunEvents({ account: ctx.account, receivedAt: ctx.now }, parsed.data.items);
  if (!read.ok) return { kind: "error", reason: "not_an_events_page", status: httpStatus };
  // The filter asked for this message: an item about another one is not applied to it.
  const events = read.events
    .filter((event) => event.providerMessageId === ctx.providerMessageId)
    .map((event) => ({ ...event, messageId: ctx.messageId }));
  const state = events.reduce<DeliveryState>((at, event) => nextState(at, event.type), "accepted");
  return { kind: "events", events, final: isTerminal(state) };
}
