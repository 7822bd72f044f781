// End-to-end FCM: the lasthop API body, the baseline (FCM HTTP v1 requests straight from Node
// with a bearer minted here, as a sender without lasthop would), and the sandbox's record of
// what arrived. Sends carry their number in `data.i`, so each arrival is matched to its send.
import { createSign } from "node:crypto";
import type { Sandbox } from "../sandbox/main.ts";
import type { Received } from "../sandbox/store.ts";
import { note, type Arrival, type SendLog } from "./e2e.ts";
import { forEachConcurrent } from "./net.ts";

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

/** Registration tokens the sandbox accepts as they are (no outcome word in them). */
export const fcmTarget = (i: number) => `bench-${i}`;

/** The FCM message both senders deliver: lasthop adds only `data.lasthop_message_id`. */
export const fcmMessage = (i: number) => ({ notification: { title: "t" }, data: { i: String(i) } });

/** The `POST /v1/messages` body for the i-th FCM send. */
export const fcmSend = (i: number) => JSON.stringify({ channel: "fcm", to: fcmTarget(i), message: fcmMessage(i) });

/** The FCM v1 request body the baseline sends for the i-th message. */
export const fcmRequest = (i: number) => JSON.stringify({ message: { token: fcmTarget(i), ...fcmMessage(i) } });

type ServiceAccountFile = { client_email: string; private_key: string; private_key_id: string; project_id: string; token_uri: string };

/**
 * Trades an RS256 service-account assertion (iss = client_email, aud = token_uri, scope
 * firebase.messaging) for an access token at the key file's token endpoint, with node:crypto
 * only: the baseline shares no code with lasthop's TokenDO.
 */
export async function mintFcmAccessToken(serviceAccountJson: string): Promise<string> {
  const sa = JSON.parse(serviceAccountJson) as ServiceAccountFile;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "RS256", typ: "JWT", kid: sa.private_key_id })}.${b64({ iss: sa.client_email, scope: FCM_SCOPE, aud: sa.token_uri, iat, exp: iat + 3600 })}`;
  const assertion = `${input}.${createSign("RSA-SHA256").update(input).sign(sa.private_key).toString("base64url")}`;
  const response = await fetch(sa.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token) throw new Error(`sandbox token endpoint: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/**
 * The baseline: N FCM v1 sends from Node's fetch straight to the sandbox FCM endpoint,
 * `concurrency` in flight. The access token is minted inside the clock, once, as lasthop's is.
 */
export async function sendFcmDirect(sandbox: Sandbox, serviceAccountJson: string, n: number, concurrency: number): Promise<SendLog> {
  const log: SendLog = { statuses: {}, failures: {}, accepted: new Set(), ids: [] };
  const { project_id: project } = JSON.parse(serviceAccountJson) as ServiceAccountFile;
  const token = await mintFcmAccessToken(serviceAccountJson);
  const url = `${sandbox.httpUrl}/fcm/v1/projects/${encodeURIComponent(project)}/messages:send`;
  await forEachConcurrent(n, concurrency, async (i) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: fcmRequest(i),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      return note(log, "error", String(error));
    }
    const text = await response.text();
    if (response.ok) {
      note(log, String(response.status));
      log.accepted.add(String(i));
      log.ids.push((JSON.parse(text) as { name: string }).name);
    } else note(log, String(response.status), text);
  });
  return log;
}

export type FcmStats = { tokensIssued: number; sends: number };

export async function fcmStats(sandbox: Sandbox): Promise<FcmStats> {
  return (await (await fetch(`${sandbox.httpUrl}/_sandbox/fcm/stats`)).json()) as FcmStats;
}

/** The bench's FCM arrivals so far, tagged with the `data.i` they carried. */
export async function fcmArrivals(sandbox: Sandbox): Promise<Arrival[]> {
  const entries = (await (await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=fcm`)).json()) as Array<Received<"fcm">>;
  return entries.flatMap((e) => {
    const data = (e.payload?.data ?? {}) as { i?: string };
    return data.i !== undefined && e.to === fcmTarget(Number(data.i)) ? [{ tag: data.i, at: Date.parse(e.at), outcome: e.outcome }] : [];
  });
}
