import type { SendOutcome } from "../core/outcome.ts";
import { parseRetryAfter } from "../core/retry.ts";
import { vonageRequest, vonageSendOutcome, type VonageRoute } from "../core/sms/vonage.ts";
import type { SmsJob } from "./job.ts";

/** Where Vonage posts an account's receipts: the provider webhook, which finds the message by client-ref. */
export function vonageCallbackUrl(publicUrl: string, account: string): string {
  return new URL(`/v1/webhooks/vonage/${encodeURIComponent(account)}`, publicUrl).href;
}

/**
 * One message through Vonage's SMS API: a form-encoded POST, `client-ref` carrying our message id
 * so the receipts need no lookup. The answer (HTTP 200 even for a refusal) is read in core.
 */
export async function sendVonage(route: VonageRoute, job: SmsJob, env: Pick<Env, "PUBLIC_URL">): Promise<SendOutcome> {
  const { url, params } = await vonageRequest(route, {
    to: job.request.to,
    from: job.request.from,
    text: job.request.body,
    clientRef: job.id,
    callback: vonageCallbackUrl(env.PUBLIC_URL, job.account),
  });
  let response: Response;
  try {
    // No redirects: a 3xx must not take the message (and the signed request) to another host.
    response = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(params),
    });
  } catch (err) {
    // The request may have reached Vonage before the connection failed.
    return { kind: "retry", detail: { reason: "network_error", error: String(err), submitted: "maybe" } };
  }
  const answer: unknown = await response.json().catch(() => null);
  return vonageSendOutcome(response.status, answer, parseRetryAfter(response.headers.get("retry-after")));
}
