/**
 * Polling Twilio's Messages API (and aggregators that speak it): `GET
 * /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` with the route's Basic credentials. The
 * resource's `status` and `error_code` become the same event a status callback makes
 * (core/sms/twilio.ts `twilioStatusEvent`), so the two dedupe against each other.
 */
import { z } from "zod";
import type { CanonicalEvent } from "../schema.ts";
import type { SmsRoute } from "../sms/account.ts";
import { twilioStatusEvent } from "../sms/twilio.ts";

type RestRoute = Extract<SmsRoute, { type: "rest" }>;

export type PollRequest = { url: string; init: RequestInit };

export function pollRequest(providerMessageId: string, route: RestRoute): PollRequest {
  const base = route.baseUrl.replace(/\/+$/, "");
  return {
    url: `${base}/2010-04-01/Accounts/${encodeURIComponent(route.accountSid)}/Messages/${encodeURIComponent(providerMessageId)}.json`,
    init: {
      method: "GET",
      // No redirects: a 3xx must not take our credentials elsewhere.
      redirect: "manual",
      headers: { authorization: `Basic ${btoa(`${route.accountSid}:${route.authToken}`)}`, accept: "application/json" },
    },
  };
}

/** The fields of the resource we read; the rest of Twilio's resource is ignored. */
const messageResource = z.object({
  sid: z.string().min(1).max(64),
  status: z.string().min(1).max(32),
  error_code: z.union([z.number(), z.string(), z.null()]).optional(),
});

export type PollContext = { account: string; messageId: string; route: string; providerMessageId: string; now: string };

/**
 * What one answer says: an event to apply (a status we map, final or not), or an error that
 * changes nothing (the run asks again next time). A resource naming another sid is not ours.
 */
export type PollResult = { kind: "event"; event: CanonicalEvent; final: boolean } | { kind: "error"; reason: string; status: number };

export async function normalizePoll(ctx: PollContext, httpStatus: number, body: unknown): Promise<PollResult> {
  if (httpStatus < 200 || httpStatus > 299) {
    const code = body !== null && typeof body === "object" ? (body as { code?: unknown }).code : undefined;
    return { kind: "error", reason: typeof code === "number" ? `twilio_${code}` : `http_${httpStatus}`, status: httpStatus };
  }
  const parsed = messageResource.safeParse(body);
  if (!parsed.success) return { kind: "error", reason: "not_a_message_resource", status: httpStatus };
  if (parsed.data.sid !== ctx.providerMessageId) return { kind: "error", reason: "another_message", status: httpStatus };
  const event = await twilioStatusEvent(
    {
      account: ctx.account,
      messageId: ctx.messageId,
      route: ctx.route,
      sid: parsed.data.sid,
      status: parsed.data.status,
      errorCode: parsed.data.error_code ?? null,
      now: ctx.now,
    },
    "poll",
  );
  if (!event) return { kind: "error", reason: `unknown_status_${parsed.data.status}`, status: httpStatus };
  return { kind: "event", event, final: event.type !== "accepted" };
}
