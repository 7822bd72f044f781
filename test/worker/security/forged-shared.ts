/**
 * Forged requests (issue 17): for every signature scheme lasthop takes, a thousand forged,
 * stale, replayed, cross-account and cross-door requests, each carrying its own would-be change
 * (a bounce for its own victim, an event with its own id). Every one must be refused by status
 * and leave no trace: no suppression, no message, no timeline entry. One correctly signed request
 * per scheme is accepted and applied (so each test can fail), and a later signed marker proves the
 * queue had drained past anything the forgeries could have enqueued. Replays of an accepted
 * request: refused where the scheme keeps replay state (Mailgun's token), else answered as the
 * original was and proven to change nothing (the event ids dedupe).
 *
 * One test file per scheme (forged-<scheme>.test.ts): SELF.fetch slows with every request a
 * workerd instance has served and overflows the stack past about 1,500 requests in one file
 * (workers-sdk#15446), and each file gets a fresh one. This module holds what the schemes share
 * (forgery.ts is the barrage driver); each file sets up everything it needs itself, as every
 * file's storage is its own.
 */
import { SELF } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterAll, expect } from "vitest";
import { adminAccount, api, BASE, getMessage, json, unique, type AdminAccount } from "../helpers.ts";
import { waitFor } from "../../wait.ts";
import { whsec } from "../provider-signers.ts";
import { flipSignature, forgeries } from "./forgery.ts";

// A scheme's fakes stay for its setup, its forgeries and its check (several tests), and for the
// queue's late retries after it; they are taken down, last first, when the file is done.
export const restore: Array<() => void> = [];
afterAll(() => {
  for (const r of restore.splice(0).reverse()) r();
});

export const now = () => Math.floor(Date.now() / 1000);
export const STALE = 10 * 60; // twice every scheme's 5-minute tolerance
export const is =
  (...statuses: number[]) =>
  (res: Response) =>
    statuses.includes(res.status);
export const hook = (provider: string, account: string, init: RequestInit) =>
  SELF.fetch(`${BASE}/v1/webhooks/${provider}/${account}`, init);

export async function configure(account: { key: string }, provider: string, body: unknown) {
  const res = await json(await api(`/v1/providers/${provider}`, { method: "PUT", json: body, key: account.key }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** How many of `recipients` the account has suppressed (one check call per 1,000). */
export async function suppressedAmong(account: { key: string }, channel: string, recipients: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (let i = 0; i < recipients.length; i += 1000) {
    const res = await json(
      await api("/v1/suppressions/check", {
        method: "POST",
        json: { channel, recipients: recipients.slice(i, i + 1000) },
        key: account.key,
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const row of res.body.data) if (row.suppressed) hits.push(row.recipient);
  }
  return hits;
}

export async function waitSuppressed(account: { key: string }, channel: string, recipient: string) {
  await waitFor(
    async () => (await suppressedAmong(account, channel, [recipient])).length === 1,
    `${recipient} to be suppressed (the signed request applied)`,
  );
}

/** The account's messages, newest first: ids and each one's timeline. */
export async function messagesOf(account: { key: string }) {
  const list = await json(await api("/v1/messages?limit=100", { key: account.key }));
  expect(list.status, JSON.stringify(list.body)).toBe(200);
  const out: Record<string, string[]> = {};
  for (const m of list.body.data) out[m.id] = (await getMessage(m.id, account.key)).body.events.map((e: { id: string }) => e.id);
  return out;
}

/** Victims of forgery i: one address each, never seen elsewhere. */
export const victims = (prefix: string, total = 1000) => Array.from({ length: total }, (_, i) => `${prefix}-${i}@forged.example`);

/** Two fresh accounts for a provider scheme; A has sent nothing, B nothing. */
export async function pair(name: string): Promise<[AdminAccount, AdminAccount]> {
  return [await adminAccount(`${name} A`), await adminAccount(`${name} B`)];
}

/**
 * After a provider barrage: no victim is suppressed in either account, and A's messages are the
 * snapshot taken after the genuine request plus only what the marker made.
 */
export async function untouched(a: AdminAccount, b: AdminAccount, channel: string, hit: string[], snapshot: Record<string, string[]>) {
  expect(await suppressedAmong(a, channel, hit)).toEqual([]);
  expect(await suppressedAmong(b, channel, hit)).toEqual([]);
  const now = await messagesOf(a);
  for (const [id, events] of Object.entries(snapshot)) expect(now[id], `message ${id}'s timeline`).toEqual(events);
  expect(Object.keys(now).length).toBe(Object.keys(snapshot).length + 1); // the marker's own message
  expect(await messagesOf(b)).toEqual({});
}

/** Standard Webhooks as Resend (svix- headers) or any sender (webhook- headers) signs, at a chosen time. */
function standardSigned(prefix: "svix" | "webhook", secret: string, body: string, at = new Date(), id = `msg_${crypto.randomUUID()}`) {
  return {
    "content-type": "application/json",
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
    [`${prefix}-signature`]: new Webhook(secret).sign(id, at, body),
  };
}

/**
 * Standard Webhooks, as Resend signs (svix- headers) or as any sender does (webhook- headers): one scheme
 * per provider, each in its own file (forged-resend.test.ts, forged-standard.test.ts).
 */
export function standardWebhooks(provider: "resend" | "standard", prefix: "svix" | "webhook"): void {
  forgeries(`${provider} (Standard Webhooks under ${prefix}- headers)`, provider, async () => {
    const [a, b] = await pair(provider);
    const other = provider === "resend" ? "standard" : "resend";
    const [secretA, secretB, secretOther] = [whsec(), whsec(), whsec()];
    const mapping = {
      recipient: "data.to",
      providerMessageId: "data.id",
      types: { "message.bounced": { type: "bounced", bounceClass: "hard" }, "message.complained": "complained" },
    };
    const setup = (secret: string) => (provider === "resend" ? { webhookSecret: secret } : { webhookSecret: secret, mapping });
    await configure(a, provider, setup(secretA));
    await configure(b, provider, setup(secretB));
    // A's other Standard Webhooks door, with its own secret: a body signed for one is no good at the other.
    await configure(a, other, other === "resend" ? { webhookSecret: secretOther } : { webhookSecret: secretOther, mapping });
    const bounce = (to: string, kind: "bounced" | "complained" = "bounced") =>
      JSON.stringify(
        provider === "resend"
          ? {
              type: kind === "bounced" ? "email.bounced" : "email.complained",
              created_at: new Date().toISOString(),
              data: {
                email_id: crypto.randomUUID(),
                to: [to],
                created_at: new Date().toISOString(),
                bounce: { type: "Permanent", subType: "General", message: "no such user" },
              },
            }
          : { type: `message.${kind}`, timestamp: new Date().toISOString(), data: { id: `m-${unique()}`, to } },
      );
    const post = (account: string, door: string, raw: string, headers: Record<string, string>) =>
      hook(door, account, { method: "POST", body: raw, headers });
    const witness = `${provider}-witness-${unique()}@example.com`;
    const okBody = bounce(witness);
    const okHeaders = standardSigned(prefix, secretA, okBody);
    expect((await post(a.id, provider, okBody, okHeaders)).status).toBe(200);
    await waitSuppressed(a, "email", witness);
    const snapshot = await messagesOf(a);
    const hit = victims(provider);
    const SIG = `${prefix}-signature`;

    return {
      makers: {
        wrong_key: async (i) => post(a.id, provider, bounce(hit[i]!), standardSigned(prefix, whsec(), bounce(hit[i]!))),
        bit_flip: async (i) => {
          const raw = bounce(hit[i]!);
          const headers = standardSigned(prefix, secretA, raw);
          return post(a.id, provider, raw, { ...headers, [SIG]: flipSignature(headers[SIG]!, i) });
        },
        body_changed: async (i) => {
          const raw = bounce(hit[i]!);
          return post(a.id, provider, raw.replace(hit[i]!, `x${hit[i]!}`), standardSigned(prefix, secretA, raw));
        },
        stale: async (i) => {
          const raw = bounce(hit[i]!);
          return post(a.id, provider, raw, standardSigned(prefix, secretA, raw, new Date(Date.now() - STALE * 1000)));
        },
        cross_account: async (i) => post(b.id, provider, bounce(hit[i]!), standardSigned(prefix, secretA, bounce(hit[i]!))),
        cross_door: async (i) => post(a.id, other, bounce(hit[i]!), standardSigned(prefix, secretA, bounce(hit[i]!))),
        replay: () => post(a.id, provider, okBody, okHeaders),
      },
      refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
      duplicates: ["replay"],
      verify: async () => {
        const marker = `${provider}-marker-${unique()}@example.com`;
        const markerBody = bounce(marker, "complained");
        expect((await post(a.id, provider, markerBody, standardSigned(prefix, secretA, markerBody))).status).toBe(200);
        await waitSuppressed(a, "email", marker);
        await untouched(a, b, "email", hit, snapshot);
      },
    };
  });
}
