import { parseRetryAfter } from "../core/retry.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { SmsRoute } from "../core/sms/account.ts";
import { twilioSendErrorVerdict } from "../core/sms/twilio.ts";
import type { SmsJob } from "./job.ts";

type RestRoute = Extract<SmsRoute, { type: "rest" }>;

/** Where a route's status callbacks come back: the URL names the account, route and message, and is signed as a whole. */
export function statusCallbackUrl(publicUrl: string, account: string, route: string, messageId: string): string {
  const url = new URL("/v1/webhooks/twilio", publicUrl);
  url.searchParams.set("account", account);
  url.searchParams.set("route", route);
  url.searchParams.set("message", messageId);
  return url.href;
}

/**
 * One message through a Twilio-compatible Messages API: a form-encoded POST with Basic auth,
 * `StatusCallback` carrying our message id (no lookup needed when the callbacks come back).
 * `submitted` says whether the provider may have taken it, which decides failover.
 */
export async function sendTwilio(route: RestRoute, job: SmsJob, env: Pick<Env, "PUBLIC_URL">): Promise<SendOutcome> {
  const { request } = job;
  const url = `${route.baseUrl.replace(/\/+$/, "")}/2010-04-01/Accounts/${route.accountSid}/Messages.json`;
  const body = new URLSearchParams({
    To: request.to,
    From: request.from,
    Body: request.body,
    StatusCallback: statusCallbackUrl(env.PUBLIC_URL, job.account, route.name, job.id),
  });
  let response: Response;
  try {
    // No redirects: a 3xx from the aggregator must not take our credentials and the message elsewhere.
    response = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: {
        authorization: `Basic ${btoa(`${route.accountSid}:${route.authToken}`)}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body,
    });
  } catch (err) {
    // The request may have reached the provider before the connection failed.
    return { kind: "retry", detail: { reason: "network_error", error: String(err), submitted: "maybe" } };
  }
  const answer = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (response.ok) {
    const sid = typeof answer?.sid === "string" ? answer.sid : undefined;
    return {
      kind: "accepted",
      detail: {
        ...(sid ? { providerMessageId: sid, sid } : {}),
        status: answer?.status ?? null,
        ...(answer?.num_segments !== undefined ? { providerSegments: Number(answer.num_segments) } : {}),
      },
    };
  }
  const verdict = twilioSendErrorVerdict(response.status, answer);
  const detail = {
    reason: verdict.reason,
    status: response.status,
    ...(verdict.errorCode !== undefined ? { errorCode: verdict.errorCode } : {}),
    ...(typeof answer?.message === "string" ? { message: answer.message } : {}),
    submitted: verdict.submitted,
  };
  if (verdict.kind === "retry") {
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    return { kind: "retry", detail, ...(retryAfter !== undefined ? { retryAfter } : {}) };
  }
  return verdict.kind === "bounced" ? { kind: "bounced", detail: { ...detail, class: "hard" } } : { kind: "failed", detail };
}
