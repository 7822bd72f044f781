/**
 * A fake bridge for the Worker tests: it checks the Standard Webhooks signature with the
 * shared verify and the key of the door it was posted to, records each batch, and answers each item by its token's first byte
 * (aa → accepted, dd → 410 bounced, cc → 429 retry, ee → 400 BadTopic failed, ff → 403
 * ExpiredProviderToken the first time, then accepted). The real
 * bridge and APNs simulator are exercised end to end in test/node.
 */
import { env } from "cloudflare:test";
import { vi } from "vitest";
import { doorSecret, verify, webhookHeaders } from "../../src/core/standard-webhooks.ts";
import { TEST_BRIDGE_HOST } from "../fixtures.ts";

export type SmtpCall = {
  items: Array<{
    id: string;
    account: string;
    mailFrom: string;
    rcptTo: string;
    raw: string;
    relay: unknown;
    sourceAddress?: string;
    holdMs?: number;
  }>;
};
export type BridgeCall = {
  items: Array<{ id: string; token: string; topic: string; pushType: string; priority?: number; sandbox?: boolean; credential?: number }>;
  credentials?: Array<{ teamId: string; keyId: string; token: string }>;
};

/** The body of a request the edge signed for the bridge, or the bridge's 401. */
export async function verifiedBody(request: Request): Promise<string | Response> {
  const raw = await request.text();
  const verdict = await verify(await doorSecret(env.WEBHOOK_SECRET, new URL(request.url).pathname), webhookHeaders(request.headers), raw);
  return verdict.ok ? raw : Response.json({ error: { code: "invalid_signature", message: verdict.reason, details: [] } }, { status: 401 });
}

/** `other`: answers requests to other hosts (a hosted provider's fake), or null to let them through. */
export function installBridge(opts: { down?: boolean; other?: (request: Request) => Promise<Response | null> } = {}) {
  const calls: BridgeCall[] = [];
  const expiredSeen = new Set<string>();
  const realFetch = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (new URL(request.url).hostname !== TEST_BRIDGE_HOST) {
      return (await opts.other?.(request)) ?? realFetch(input as RequestInfo, init);
    }
    const signed = await verifiedBody(request);
    if (signed instanceof Response) return signed;
    const raw = signed;
    if (opts.down) return new Response("bad gateway", { status: 502 });
    if (new URL(request.url).pathname === "/v1/smtp/send") return smtp(JSON.parse(raw) as SmtpCall);
    const body = JSON.parse(raw) as BridgeCall;
    calls.push(body);
    const expiredOnce = (token: string) => !expiredSeen.has(token) && Boolean(expiredSeen.add(token));
    const results = body.items.map((item) => {
      switch (item.token.slice(0, 2)) {
        case "dd":
          return {
            id: item.id,
            kind: "bounced",
            detail: {
              status: 410,
              apnsReason: "Unregistered",
              class: "hard",
              reason: "token_invalid",
              unregisteredAt: "2026-01-01T00:00:00.000Z",
            },
          };
        case "cc":
          return {
            id: item.id,
            kind: "retry",
            retryAfter: 0,
            detail: { status: 429, apnsReason: "TooManyRequests", reason: "rate_limited" },
          };
        case "ee":
          return { id: item.id, kind: "failed", detail: { status: 400, apnsReason: "BadTopic", reason: "rejected" } };
        case "ff":
          if (expiredOnce(item.token)) {
            return {
              id: item.id,
              kind: "retry",
              retryAfter: 0,
              detail: { status: 403, apnsReason: "ExpiredProviderToken", reason: "provider_token" },
            };
          }
          return { id: item.id, kind: "accepted", detail: { status: 200, providerMessageId: item.id } };
        default:
          return { id: item.id, kind: "accepted", detail: { status: 200, providerMessageId: item.id } };
      }
    });
    return Response.json({ results });
  });
  const mail: SmtpCall["items"] = [];
  /** Every SMTP item the bridge was asked to relay, whatever the answer. */
  const relayed: SmtpCall["items"] = [];
  const attemptsByRcpt = new Map<string, number>();
  // Answers like a receiving MTA by recipient: bounce → 550 5.1.1, block → 554 5.7.1,
  // soft → 451 4.7.1 on the first attempt, never → 451 every time, throttle → 421 4.7.0 (a rate
  // limit) on the first attempt, else 250. Each answer names the source address, as the bridge's do.
  function smtp(body: SmtpCall): Response {
    const results = body.items.map((item) => {
      const answer = smtpAnswer(item);
      return item.sourceAddress ? { ...answer, detail: { ...answer.detail, sourceAddress: item.sourceAddress } } : answer;
    });
    return Response.json({ results });
  }
  function smtpAnswer(item: SmtpCall["items"][number]) {
    relayed.push(item);
    const n = (attemptsByRcpt.get(item.rcptTo) ?? 0) + 1;
    attemptsByRcpt.set(item.rcptTo, n);
    if (item.rcptTo.includes("bounce"))
      return { id: item.id, kind: "bounced", detail: { smtpCode: 550, enhancedCode: "5.1.1", class: "hard", reason: "userunknown" } };
    if (item.rcptTo.includes("block"))
      return { id: item.id, kind: "bounced", detail: { smtpCode: 554, enhancedCode: "5.7.1", class: "soft", reason: "rejected" } };
    if (item.rcptTo.includes("never") || (item.rcptTo.includes("soft") && n === 1)) {
      return {
        id: item.id,
        kind: "retry",
        detail: { smtpCode: 451, enhancedCode: "4.7.1", reason: "deferred", response: "451 4.7.1 Greylisted" },
      };
    }
    if (item.rcptTo.includes("throttle") && n === 1) {
      const response = "421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume";
      return {
        id: item.id,
        kind: "retry",
        detail: { smtpCode: 421, enhancedCode: "4.7.0", reason: "deferred", response, throttled: true },
      };
    }
    mail.push(item);
    return { id: item.id, kind: "accepted", detail: { smtpCode: 250, providerMessageId: `Q${n}${item.id.slice(0, 6)}` } };
  }
  return { calls, mail, relayed, restore: () => spy.mockRestore() };
}
