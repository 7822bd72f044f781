/**
 * The isolation runner (isolation.test.ts and isolation-<group>.test.ts call `isolationGroup`).
 * Isolation, the suite's proof: every account route, called with account B's credentials and
 * account A's ids, finds nothing of A's (404 or the documented answer) and changes nothing:
 * a snapshot of A's state (every list, every section, A's messages) is the same before and
 * after B's calls. The rows are the API's table (../isolation-table.ts, with the event stream's
 * and the bridge health's) and the dashboard's (dashboard-isolation.ts); a route of the app that
 * is in neither table nor in the exempt list below fails the completeness test.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { app } from "../../../src/api/app.ts";
import { adminAccount } from "../helpers.ts";
import { ISOLATION, NOT_BY_ACCOUNT_KEY, providerPaths, snapshotOf, type Row } from "../isolation-table.ts";
import { installPushService } from "../push-service.ts";
import { DASHBOARD_UNSCOPED, dashboardRows } from "./dashboard-isolation.ts";

export const ROWS: Record<string, Row> = { ...ISOLATION, ...dashboardRows() };

/** Routes that name no account's data, and why. */
export const EXEMPT: Record<string, string> = {
  "GET /": "the service's name",
  "GET /healthz": "liveness",
  "GET /openapi.json": "the API's description",
  "GET /docs": "the API reference and its assets",
  "GET /u/": "one-click unsubscribe: the token is signed by the platform and names its account (test/worker/email.test.ts)",
  "POST /u/": "as above",
  ...Object.fromEntries(DASHBOARD_UNSCOPED.map((r) => [r, "no account's data"])),
  ...Object.fromEntries(
    Object.entries(NOT_BY_ACCOUNT_KEY).flatMap(([prefix, why]) =>
      ["GET", "POST", "PUT", "PATCH", "DELETE"].map((m) => [`${m} ${prefix}`, why]),
    ),
  ),
};

/**
 * The rows run in groups, one test file each: SELF.fetch slows with every request a workerd
 * instance has served (workers-sdk#15446) and each file gets a fresh one.
 */
const GROUPS = {
  dashboard: ["GET /dashboard", "POST /dashboard"],
  settings: [
    "GET /v1/email",
    "PUT /v1/email",
    "DELETE /v1/email",
    "GET /v1/sms/settings",
    "PUT /v1/sms/settings",
    "DELETE /v1/sms/settings",
    "GET /v1/push",
    "PUT /v1/push",
    "DELETE /v1/push",
    "POST /v1/push",
    "GET /v1/retention",
    "PUT /v1/retention",
    "DELETE /v1/retention",
    "GET /v1/providers",
    "PUT /v1/providers",
    "DELETE /v1/providers",
  ],
  endpoints: [
    "GET /v1/webhook-endpoints",
    "POST /v1/webhook-endpoints",
    "PATCH /v1/webhook-endpoints",
    "DELETE /v1/webhook-endpoints",
    "GET /v1/messages/:id/deliveries",
    "GET /v1/domains",
    "POST /v1/domains",
    "DELETE /v1/domains",
  ],
} as const;
export type IsolationGroup = keyof typeof GROUPS | "api";

/** A row's group: the first whose prefixes it starts with, else `api`. */
export function groupOf(route: string): IsolationGroup {
  const found = (Object.keys(GROUPS) as (keyof typeof GROUPS)[]).find((g) => GROUPS[g].some((prefix) => route.startsWith(prefix)));
  return found ?? "api";
}

/** An exempt entry covers its own key and the routes under it (`GET /` is the root alone; one ending in `/` is a prefix). */
function covers(exempt: string, key: string): boolean {
  if (key === exempt) return true;
  if (exempt.endsWith(" /")) return false;
  return key.startsWith(exempt.endsWith("/") ? exempt : `${exempt}/`);
}

/** The completeness test: every route of the app with an account's data has a row. */
export function everyRouteHasARow(): void {
  it("every route of the app with an account's data has a row (a new route without one fails here)", () => {
    const routes = app.routes
      .filter((r) => r.method !== "ALL" && !r.path.endsWith("*"))
      .map((r) => `${r.method} ${r.path.replace(/(.)\/$/, "$1")}`)
      .filter((key) => !Object.keys(EXEMPT).some((exempt) => covers(exempt, key)));
    // Provider routes are one pattern in the app; the table has a row per provider.
    const expanded = [...new Set(routes)].flatMap((r) =>
      r.includes("/v1/providers/:provider") ? providerPaths.map((p) => r.replace("/v1/providers/:provider", p)) : [r],
    );
    expect(expanded.sort()).toEqual(Object.keys(ROWS).sort());
  });
}

export function isolationGroup(group: IsolationGroup): void {
  let push: ReturnType<typeof installPushService>;
  beforeEach(() => {
    push = installPushService();
  });
  afterEach(() => push.restore());

  let passed = 0;
  let failed = 0;
  afterAll(() => {
    // A failed row is a leak (B saw A's thing) or a change (A's snapshot moved); a passing one is neither.
    const verdict = failed === 0 ? "0 leaks, 0 changes" : `${failed} rows with a leak or a change`;
    console.log(`isolation ${group}: ${passed + failed} routes × cross-account calls (${passed} rows passed): ${verdict}`);
  });

  describe(`isolation (${group}): B's credentials on A's things`, () => {
    it.each(Object.keys(ROWS).filter((r) => groupOf(r) === group))("%s", async (route) => {
      const a = await adminAccount("A");
      const b = await adminAccount("B");
      let before: Record<string, unknown> | null = null;
      let after: Record<string, unknown> | null = null;
      let messageIds: string[] = [];
      const ready = async (ids: string[] = []) => {
        messageIds = ids;
        before = await snapshotOf(a, messageIds);
      };
      const done = async () => {
        after = await snapshotOf(a, messageIds);
      };
      try {
        await ROWS[route]!({ a, b, ready, done });
        expect(before, "the row never said A's state was ready (p.ready())").not.toBeNull();
        if (!after) await done();
        expect(after, "A's state after B's calls").toEqual(before);
      } catch (error) {
        failed++;
        throw error;
      }
      passed++;
    });
  });
}
