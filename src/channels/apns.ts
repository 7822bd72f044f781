import { isolateMayUse, providerTokenName, type ApnsProviderToken, type ApnsSigningKey } from "../core/apns-token.ts";
import { BRIDGE_APNS_PATH, type ApnsBatch, type ApnsCredential } from "../core/bridge.ts";
import type { AccountRuntime } from "../core/config/runtime.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { z } from "zod";
import type { apnsSend } from "../core/schema.ts";
import { sendBatchToBridge } from "./bridge.ts";

type ApnsSend = z.infer<typeof apnsSend>;
export type ApnsJob = { id: string; account: string; config: AccountRuntime; request: ApnsSend };

/** Per-isolate copies of TokenDO's tokens, each asked for again after APNS_TOKEN_ISOLATE_MS. */
const cached = new Map<string, { token: ApnsProviderToken; fetchedAt: number }>();

/**
 * The account's provider token for its key. TokenDO (named by the account, team, key id and the
 * key's fingerprint) mints it; this isolate keeps a copy for a minute at most, and never past
 * the age at which TokenDO replaces it, so every isolate sends the same token. Only values are
 * shared between invocations, never a promise (workerd ties a promise to the request that made
 * it); within one batch, each credential is asked for once.
 */
async function providerToken(env: Env, account: string, signer: ApnsSigningKey, rejected?: string): Promise<ApnsProviderToken | null> {
  const name = await providerTokenName(account, signer);
  const hit = cached.get(name);
  if (rejected === undefined && hit && isolateMayUse(hit.token, hit.fetchedAt, Date.now())) return hit.token;
  const { key, keyId, teamId } = signer;
  const answer = (await env.TOKENS.get(env.TOKENS.idFromName(name)).apnsToken({ key, keyId, teamId }, rejected)) as
    | ApnsProviderToken
    | { unusableKey: true };
  if ("unusableKey" in answer) return null;
  cached.set(name, { token: answer, fetchedAt: Date.now() });
  if (cached.size > 10_000) cached.delete(cached.keys().next().value!);
  return answer;
}

/**
 * Sends a group of APNs notifications through the bridge in one signed request; the
 * bridge multiplexes them over its pooled HTTP/2 sessions and answers each item.
 *
 * An account with an `apns` section sends with its own key: the batch carries its edge-minted
 * provider token as a credential, and its items name that credential (one per account and key
 * in the batch), so what account A sends is signed with A's key and never B's. The account's
 * `environment` picks the APNs origin unless the message sets `sandbox` itself. Items of
 * accounts without a section carry no credential: the bridge signs them with its own key.
 */
export async function sendApnsBatch(jobs: ApnsJob[], env: Env): Promise<SendOutcome[]> {
  const outcomes: Array<SendOutcome | undefined> = new Array(jobs.length);
  const credentials: ApnsCredential[] = [];
  /** Who each credential belongs to: the account and its key, for a token APNs calls expired. */
  const owners: Array<{ account: string; signer: ApnsSigningKey }> = [];
  const byName = new Map<string, number | SendOutcome>();
  const credentialOf = async (job: ApnsJob): Promise<number | SendOutcome | undefined> => {
    const section = job.config.sections.apns;
    if (!section) return undefined;
    const name = await providerTokenName(job.account, section);
    if (!byName.has(name)) {
      try {
        const minted = await providerToken(env, job.account, section);
        if (minted === null) {
          // A key that cannot sign (not a P-256 PKCS#8 key) is the account's to fix: no retry helps.
          byName.set(name, {
            kind: "failed",
            detail: { reason: "configuration", hint: "the account's apns key cannot sign an ES256 token: upload the .p8 file's PEM text" },
          });
        } else {
          owners.push({ account: job.account, signer: section });
          byName.set(name, credentials.push({ token: minted.token, keyId: minted.keyId, teamId: minted.teamId }) - 1);
        }
      } catch (err) {
        // TokenDO unreachable or overloaded: the queue retries.
        byName.set(name, { kind: "retry", detail: { reason: "provider_token", error: String(err) } });
      }
    }
    return byName.get(name);
  };

  const items: ApnsBatch["items"] = [];
  const sent: number[] = [];
  for (const [index, job] of jobs.entries()) {
    const { id, request } = job;
    const credential = await credentialOf(job);
    if (typeof credential === "object") {
      outcomes[index] = credential;
      continue;
    }
    const environment = job.config.sections.apns?.environment;
    const sandbox = request.sandbox ?? (environment === undefined ? undefined : environment === "sandbox");
    items.push({
      id,
      token: request.to,
      topic: request.topic,
      pushType: request.pushType,
      ...(request.priority !== undefined ? { priority: request.priority } : {}),
      ...(request.expiration !== undefined ? { expiration: request.expiration } : {}),
      ...(request.collapseId !== undefined ? { collapseId: request.collapseId } : {}),
      payload: request.payload,
      ...(sandbox !== undefined ? { sandbox } : {}),
      ...(credential !== undefined ? { credential } : {}),
    });
    sent.push(index);
  }
  if (items.length > 0) {
    const batch: ApnsBatch = { items, ...(credentials.length > 0 ? { credentials } : {}) };
    const results = await sendBatchToBridge(
      env,
      BRIDGE_APNS_PATH,
      batch,
      items.map(({ id }) => id),
    );
    const expired = new Set<number>();
    results.forEach((outcome, i) => {
      outcomes[sent[i]!] = outcome;
      const credential = items[i]!.credential;
      if (credential !== undefined && outcome.detail.apnsReason === "ExpiredProviderToken") expired.add(credential);
    });
    // APNs called an account's token expired: TokenDO replaces it (once, however many items
    // saw it) before the queue retries them.
    await Promise.all(
      [...expired].map((credential) =>
        providerToken(env, owners[credential]!.account, owners[credential]!.signer, credentials[credential]!.token).catch(() => undefined),
      ),
    );
  }
  return outcomes as SendOutcome[];
}
