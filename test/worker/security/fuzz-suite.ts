/**
 * The fuzz of one group of routes (fuzz-routes.ts `fuzzGroups`; each group's file calls
 * `fuzzGroup`). Every route's path parameters, query, headers, content type and body are drawn
 * from its own zod schemas (valid-shaped, so the request gets past the parser into the handler)
 * or are hostile (hostile.ts: deep nesting, fields past the body limits, control characters,
 * prototype keys, invalid UTF-8, wrong content types, duplicate and oversized headers, odd query
 * strings), sent with SELF.fetch with the credentials the route's door wants (API key, admin key,
 * bridge or provider signature, dashboard session) or with wrong ones or none.
 *
 * What must hold for every request: no 5xx, no throw, and every error is exactly
 * `{error:{code,message,details}}`; the dashboard's and the API reference's errors are HTML
 * pages a browser shows, and the suppressions CSV download's is a line of text (a JSON error
 * there must still have the one shape). fuzz-regressions.test.ts keeps what the fuzz found.
 */
import { env } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signUnsubscribeToken } from "../../../src/core/email.ts";
import { TEST_BRIDGE_HOST } from "../../fixtures.ts";
import { HEALTHZ, METRICS } from "../bridge-health-fake.ts";
import { api, json, unique, webpush } from "../helpers.ts";
import { fuzzAccount, type FuzzAccount } from "./fuzz-auth.ts";
import { answerProblem, requestArbitrary, sendFuzz, type Pools } from "./fuzz-request.ts";
import { fuzzRoutes, groupsOf, routeKey, type FuzzGroup } from "./fuzz-routes.ts";

/** Requests per route: 99 routes, so about two thousand in all. */
export const NUM_RUNS = 20;
/** fast-check's seed, printed with the totals: set it here to replay a run. */
const SEED = Date.now() % 2 ** 31;

async function newEndpoint(key: string): Promise<string> {
  const made = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: "https://hooks.fuzz.example/in" }, key }));
  expect(made.status).toBe(201);
  return made.body.id;
}

async function newDomain(key: string): Promise<string> {
  const domain = `${unique()}.example`;
  expect((await api("/v1/domains", { method: "POST", json: { domain }, key })).status).toBe(201);
  return domain;
}

export function fuzzGroup(group: FuzzGroup): void {
  let fuzz: FuzzAccount;
  let real: Record<string, string[]> = {};
  const counts = new Map<string, { requests: number; byStatus: Map<number, number> }>();

  beforeAll(async () => {
    // Nothing the fuzz sets off leaves the test: each outbound fetch (a push, a webhook delivery, a
    // DoH lookup, a bridge batch) is answered 503 here, except the fake bridge's health. Left in
    // place after the last test: deliveries the fuzz scheduled may still run, and must not go out.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(new Request(input as RequestInfo, init).url);
      if (url.hostname === TEST_BRIDGE_HOST && url.pathname === "/healthz") return Response.json(HEALTHZ);
      if (url.hostname === TEST_BRIDGE_HOST && url.pathname === "/metrics") return new Response(METRICS);
      return new Response("the fuzz allows no network", { status: 503 });
    });
    fuzz = await fuzzAccount();
    const key = fuzz.account.key;
    // Real ids of the fuzz account, so valid-shaped parameters name things that exist.
    const message = await json(await api("/v1/messages", { method: "POST", json: await webpush(`fuzz-${unique()}`), key }));
    const recipient = `fuzz-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${recipient}`, { method: "PUT", key });
    const endpoint = await newEndpoint(key);
    const domain = await newDomain(key);
    const token = await signUnsubscribeToken(env.UNSUBSCRIBE_SECRET, {
      account: fuzz.account.id,
      recipient,
      messageId: message.body.id ?? crypto.randomUUID(),
    });
    real = {
      message: [message.body.id].filter(Boolean),
      recipient: [recipient],
      endpoint: [endpoint],
      domain: [domain],
      token: [token],
    };
  });

  const pools: Pools = (route, param) => {
    const p = route.path;
    if (param === "account") return [fuzz.account.id];
    if (param === "recipient") return real.recipient!;
    if (param === "domain") return real.domain!;
    if (param === "token") return real.token!;
    if (param === "channel") return ["email"];
    if (param !== "id") return [];
    if (p.includes("/messages/")) return real.message!;
    if (p.includes("webhook")) return real.endpoint!;
    // Never the fuzz's own key or account: what the fuzz may revoke or disable is spare.
    if (p.includes("api-keys") || p.includes("/keys/")) return [fuzz.spareKeyId];
    if (p.includes("/admin/")) return [fuzz.spareAccountId];
    return [];
  };

  const problems: string[] = [];

  afterAll(() => {
    const requests = [...counts.values()].reduce((n, c) => n + c.requests, 0);
    const fivexx = [...counts.values()].reduce((n, c) => n + [...c.byStatus].filter(([s]) => s >= 500).reduce((m, [, k]) => m + k, 0), 0);
    // Each route's answers by status, so a reader sees how far the fuzz got (past the door, into the handler).
    const statuses = [...counts].map(
      ([key, c]) =>
        `  ${key}: ${[...c.byStatus]
          .sort(([x], [y]) => x - y)
          .map(([s, n]) => `${s}×${n}`)
          .join(" ")}`,
    );
    console.log(
      `fuzz ${group}: ${requests} requests over ${counts.size} routes (${NUM_RUNS} per route, seed ${SEED}): ${fivexx} 5xx, ${problems.length} problems\n${statuses.join("\n")}`,
    );
  });

  describe(`fuzzing the ${group} routes`, () => {
    it.each(fuzzRoutes.filter((r) => groupsOf(r).includes(group)).map((r) => [routeKey(r), r] as const))("%s", async (_, route) => {
      // A provider webhook reaches its verifier only while the account has the provider's section;
      // the fuzz of the settings routes may have removed them.
      if (route.path.startsWith("/v1/webhooks/{provider}")) await fuzz.provisionProviders();
      // An earlier route may have deleted the real endpoint or domain: each route gets ones that exist.
      if (/webhook(s|-endpoints)\/\{id\}/.test(route.path)) real.endpoint = [await newEndpoint(fuzz.account.key)];
      if (route.path.includes("{domain}")) real.domain = [await newDomain(fuzz.account.key)];
      const count = { requests: 0, byStatus: new Map<number, number>() };
      counts.set(routeKey(route), count);
      const found: string[] = [];
      await fc.assert(
        fc.asyncProperty(requestArbitrary(route, pools), async (req) => {
          const sent = await sendFuzz(route, req, fuzz);
          count.requests++;
          count.byStatus.set(sent.res.status, (count.byStatus.get(sent.res.status) ?? 0) + 1);
          const problem = await answerProblem(route, sent.res);
          if (problem)
            found.push(`${sent.method} ${sent.url} ${JSON.stringify(sent.headers)} body=${JSON.stringify(sent.body)}\n  → ${problem}`);
        }),
        { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
      );
      problems.push(...found);
      expect(found, `${routeKey(route)}: answers that break the rules`).toEqual([]);
    });
  });
}
