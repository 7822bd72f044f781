import { FCM_SCOPE, fcmErrorCode, fcmOutcome } from "../core/fcm.ts";
import { tokenUsable, type AccessToken, type ServiceAccount } from "../core/google-oauth.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { z } from "zod";
import type { fcmSend } from "../core/schema.ts";

type FcmSend = z.infer<typeof fcmSend>;

/**
 * Per-isolate cache in front of TokenDO, so most sends cost no Durable Object call. Tokens are
 * cached, never an in-flight promise: workerd ties a promise to its request, and another
 * request awaiting it can hang. Concurrent misses each ask TokenDO, which mints once.
 */
const cached = new Map<string, AccessToken>();

/**
 * The account's token for this service account. The TokenDO's name carries the account and
 * the service account's key id, so two accounts never share a token, and a replaced key mints anew.
 */
async function accessToken(env: Env, account: string, sa: ServiceAccount, rejected?: string): Promise<AccessToken> {
  const name = `${account}:${sa.client_email}:${typeof sa.private_key_id === "string" ? sa.private_key_id : ""}`;
  const hit = cached.get(name);
  if (tokenUsable(hit, rejected)) return hit;
  const token = await env.TOKENS.get(env.TOKENS.idFromName(name)).accessToken(JSON.stringify(sa), FCM_SCOPE, rejected);
  cached.set(name, token);
  return token;
}

/**
 * Sends one FCM HTTP v1 message. Our message id rides in `data` (FCM's only per-message
 * field the app can read), so an app can report opens against it.
 */
export async function sendFcm(request: FcmSend, messageId: string, account: string, sa: ServiceAccount, env: Env): Promise<SendOutcome> {
  const url = `${env.FCM_ORIGIN.replace(/\/$/, "")}/v1/projects/${sa.project_id}/messages:send`;
  const body = JSON.stringify({
    message: { ...request.message, token: request.to, data: { ...request.message.data, lasthop_message_id: messageId } },
  });
  const post = (token: AccessToken) =>
    fetch(url, { method: "POST", headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" }, body });
  try {
    let token = await accessToken(env, account, sa);
    let response = await post(token);
    let answer: unknown = await response.json().catch(() => null);
    // A 401 UNAUTHENTICATED means our access token went bad early: refresh once and retry.
    // THIRD_PARTY_AUTH_ERROR is also a 401, but it is about APNs/web push credentials in Firebase.
    if (response.status === 401 && fcmErrorCode(answer as never) !== "THIRD_PARTY_AUTH_ERROR") {
      token = await accessToken(env, account, sa, token.token);
      response = await post(token);
      answer = await response.json().catch(() => null);
    }
    return fcmOutcome(response.status, answer, response.headers.get("retry-after"));
  } catch (err) {
    return { kind: "retry", detail: { reason: "network_error", error: String(err) } };
  }
}
