// Email routes end to end: the stack gives its account one route of each type (the relay through
// the bridge to the sandbox MTA, then SendGrid, SES, Mailgun, Postmark and Resend at the sandbox's
// simulators of their send APIs, which check each request as the provider documents it and post
// the provider's signed webhooks back). Failover, pinning and circuits run against the
// simulators' failure modes (503, hang, drop); the simulators count what they received, so a
// message handed to two providers would show.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, waitForProgress } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({
    emailRoutes: true,
    // A hung provider counts as lost after 3 s; an open circuit lets a probe through after 2 s.
    vars: { ESP_TIMEOUT_SECONDS: "3", ROUTE_CIRCUIT_COOL_DOWN_SECONDS: "2" },
  });
});
afterAll(async () => stack?.stop());

const TYPES = ["relay", "sendgrid", "ses", "mailgun", "postmark", "resend"] as const;

const fresh = (label: string) => `${label}-${randomUUID().slice(0, 8)}@example.com`;
const mail = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@lasthop.test",
  fromName: "lasthop",
  to,
  subject: "Routes end to end",
  text: "Hello from a route",
  html: "<p>Hello from a route</p>",
  tags: ["weekly"],
  ...extra,
});

/**
 * Sends as a careful client does: with an Idempotency-Key, and a 5xx or a lost answer retried
 * with the same key (at most 3 times, each one logged), so a retry never makes a second message.
 */
async function sendOk(body: Record<string, unknown>): Promise<string> {
  const headers = { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json", "idempotency-key": randomUUID() };
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${stack.workerUrl}/v1/messages`, { method: "POST", body: JSON.stringify(body), headers }).catch(
      (error: unknown) => String(error),
    );
    const status = typeof res === "string" ? 0 : res.status;
    const text = typeof res === "string" ? res : await res.text();
    if ((status === 0 || status >= 500) && attempt < 3) {
      console.warn(`POST /v1/messages answered ${status || "nothing"} (${text.slice(0, 300)}); retrying with the same Idempotency-Key`);
      continue;
    }
    // 200: a retry found the message the first request made (the replay of its key).
    expect(attempt > 1 ? [200, 202] : [202], text).toContain(status);
    return (JSON.parse(text) as { id: string }).id;
  }
}

/** What each simulator received for our message (the send APIs record our id; the MTA the envelope's VERP). */
async function receivedBy(id: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const m of (await stack.sandboxGet("/_sandbox/esp/received")) as Array<{ provider: string; lasthopId: string | null }>) {
    if (m.lasthopId === id) counts[m.provider] = (counts[m.provider] ?? 0) + 1;
  }
  for (const r of (await stack.sandboxGet("/_sandbox/received?channel=email")) as Array<{ provider?: string; payload?: string | null }>) {
    if (r.provider === "smtp" && r.payload?.includes(id)) counts.smtp = (counts.smtp ?? 0) + 1;
  }
  return counts;
}

async function setRoutes(names: string[], extra: Record<string, unknown> = {}): Promise<void> {
  const current = await stack.api("/v1/email/settings");
  const config = (await stack.sandboxGet("/_sandbox/esp/config")) as Record<string, { baseUrl: string }>;
  const routes = names.map((name) => (name === "relay" ? { name, type: "relay" } : { name, type: name, baseUrl: config[name]!.baseUrl }));
  const { routes: _r, rules: _rules, split: _split, ...rest } = current.body;
  const res = await stack.api("/v1/email/settings", {
    method: "PUT",
    body: JSON.stringify({ ...rest, routes, ...extra }),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const behave = (provider: string, mode: string, times?: number) =>
  stack.sandboxPost(`/_sandbox/esp/${provider}/behaviour`, { mode, ...(times ? { times } : {}) });

const acceptedDetail = (m: { events: Array<{ type: string; detail: any }> }) => m.events.find((e) => e.type === "accepted")!.detail;

describe("npm start's routes: one of each type, relay first", () => {
  it("GET /v1/routes lists them in order with closed circuits", async () => {
    const res = await stack.api("/v1/routes");
    expect(res.status).toBe(200);
    expect(res.body.email.map((r: { name: string; type: string }) => [r.name, r.type])).toEqual(TYPES.map((t) => [t, t]));
    for (const r of res.body.email) expect(r.circuit).toEqual({ state: "closed", failures: 0 });
  });

  it.each(TYPES)(
    "route %s: the simulator received it once, the view names the route, and the provider's feedback ends it",
    async (type) => {
      const delivered = fresh(`ok-${type}`);
      const id = await sendOk(mail(delivered, { route: type }));
      const accepted = await stack.waitForStatus(id, "accepted");
      expect(accepted.route).toBe(type);
      expect(acceptedDetail(accepted)).toMatchObject({ route: type, routeType: type });
      const simulator = type === "relay" ? "smtp" : type;
      expect(await receivedBy(id)).toEqual({ [simulator]: 1 });
      const received = (await stack.sandboxGet("/_sandbox/received?channel=email")) as Array<{ to: string; provider?: string }>;
      expect(received.filter((r) => r.to === delivered).map((r) => r.provider)).toEqual([simulator]);
      if (type === "relay") return; // the MTA's 250 is custody; its DSNs are tested in e2e-bounces
      // The simulator posts the provider's signed webhook; our id or the provider's maps it back.
      expect(accepted.providerMessageId).toEqual(expect.any(String));
      await stack.waitForStatus(id, "delivered");
      const bounced = fresh(`bounce-${type}`);
      const bounce = await sendOk(mail(bounced, { route: type }));
      const m = await stack.waitForStatus(bounce, "bounced");
      expect(m.route).toBe(type);
      await waitFor(
        async () => (await stack.api(`/v1/suppressions/email/${encodeURIComponent(bounced)}`)).status === 200,
        `${bounced} suppressed`,
      );
    },
  );
});

describe("engagement and complaints through each provider's webhooks", () => {
  it.each(TYPES.filter((t) => t !== "relay"))("%s: an open lands on the timeline; a complaint suppresses", async (type) => {
    const opened = await sendOk(mail(fresh(`open-${type}`), { route: type }));
    const complained = fresh(`complain-${type}`);
    const complaint = await sendOk(mail(complained, { route: type }));
    await waitFor(async () => {
      const m = (await stack.api(`/v1/messages/${opened}`)).body;
      return m.status === "delivered" && m.events.some((e: { type: string }) => e.type === "opened");
    }, `${type}: message ${opened} delivered and opened`);
    await waitFor(
      async () => (await stack.api(`/v1/suppressions/email/${encodeURIComponent(complained)}`)).body?.reason === "complaint",
      `${type}: ${complained} suppressed for a complaint`,
    );
    expect((await stack.api(`/v1/messages/${complaint}`)).body.route).toBe(type);
  });
});

describe("failover between providers", () => {
  it("route 1 answers 503: messages move to route 2, none reaches two providers, and the circuit opens, then recovers", async () => {
    await setRoutes(["sendgrid", "postmark", "relay"]);
    await behave("sendgrid", "503");
    try {
      const ids = [];
      for (let i = 0; i < 6; i++) ids.push(await sendOk(mail(fresh("failover"))));
      for (const id of ids) {
        const m = await stack.waitForStatus(id, "accepted");
        expect(m.route).toBe("postmark");
        expect(acceptedDetail(m).failedOver).toEqual([{ route: "sendgrid", reason: expect.stringMatching(/^(route_down|circuit_open)$/) }]);
        expect(await receivedBy(id)).toEqual({ postmark: 1 });
      }
      const routes = await stack.api("/v1/routes");
      expect(routes.body.email[0]).toMatchObject({ name: "sendgrid", circuit: { state: "open" } });
    } finally {
      await behave("sendgrid", "ok");
    }
    // After the cool-down a probe goes to SendGrid, which answers again: the circuit closes.
    await waitFor(async () => {
      const id = await sendOk(mail(fresh("probe")));
      return (await stack.waitForStatus(id, "accepted")).route === "sendgrid";
    }, "a message to go through SendGrid again");
    expect((await stack.api("/v1/routes")).body.email[0].circuit).toEqual({ state: "closed", failures: 0 });
  });

  it("route 1 hangs after reading the request: that message is pinned there and never reaches route 2", async () => {
    await setRoutes(["sendgrid", "postmark", "relay"]);
    await behave("sendgrid", "hang", 1);
    const id = await sendOk(mail(fresh("hang")));
    const deferred = await stack.waitForStatus(id, "deferred");
    expect(deferred.events.at(-1).detail).toMatchObject({ route: "sendgrid", reason: "timeout", submitted: "maybe" });
    expect(deferred.route).toBe("sendgrid");
    const m = await stack.waitForStatus(id, "accepted");
    expect(m.route).toBe("sendgrid");
    // The hung request was read (the simulator counted it) and the retry was taken: SendGrid saw it, Postmark never did.
    expect((await receivedBy(id)).postmark).toBeUndefined();
  });

  it("route 1 drops the connection after reading the request: pinned too", async () => {
    await setRoutes(["resend", "postmark", "relay"]);
    await behave("resend", "drop", 1);
    const id = await sendOk(mail(fresh("drop")));
    const deferred = await stack.waitForStatus(id, "deferred");
    expect(deferred.events.at(-1).detail).toMatchObject({ route: "resend", reason: "network_error", submitted: "maybe" });
    const m = await stack.waitForStatus(id, "accepted");
    expect(m.route).toBe("resend");
    expect(await receivedBy(id)).toEqual({ resend: 1 });
  });
});

describe("rules", () => {
  it("a tag rule: transactional → relay, marketing → mailgun", async () => {
    await setRoutes(["relay", "mailgun", "ses"], {
      rules: [
        { tag: "transactional", routes: ["relay"] },
        { tag: "marketing", routes: ["mailgun", "ses"] },
      ],
    });
    const t = await sendOk(mail(fresh("tx"), { tags: ["transactional"] }));
    const m = await sendOk(mail(fresh("mk"), { tags: ["marketing"] }));
    expect((await stack.waitForStatus(t, "accepted")).route).toBe("relay");
    expect((await stack.waitForStatus(m, "accepted")).route).toBe("mailgun");
  });

  it("a 70/30 split over 1,000 messages (the achieved split is printed) and /v1/stats by route", async () => {
    await setRoutes(["sendgrid", "postmark"], {
      split: [
        { route: "sendgrid", weight: 70 },
        { route: "postmark", weight: 30 },
      ],
    });
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const ids: string[] = [];
    const inFlight = 10;
    for (let i = 0; i < 1000; i += inFlight) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(inFlight, 1000 - i) }, () => sendOk(mail(fresh("split")))))));
    }
    // A thousand sends are a queue backlog: wait while messages keep being taken, not a fixed time each.
    const taken = new Map<string, string>();
    await waitForProgress(
      async () => {
        const pending = ids.filter((id) => !taken.has(id));
        for (let i = 0; i < pending.length; i += inFlight) {
          await Promise.all(
            pending.slice(i, i + inFlight).map(async (id) => {
              const res = await stack.api(`/v1/messages/${id}`);
              // The simulator's delivered webhook may already have moved it past accepted.
              if (["accepted", "delivered"].includes(res.body?.status)) taken.set(id, res.body.route);
            }),
          );
        }
        return taken.size;
      },
      ids.length,
      { stallMs: 120_000, what: "split messages taken by a route", everyMs: 500 },
    );
    const routes = { sendgrid: 0, postmark: 0 } as Record<string, number>;
    for (const route of taken.values()) routes[route] = (routes[route] ?? 0) + 1;
    console.log(`70/30 split over 1,000 messages: sendgrid ${routes.sendgrid}, postmark ${routes.postmark}`);
    expect(routes.sendgrid! + routes.postmark!).toBe(1000);
    // Binomial(1000, 0.7): σ ≈ 14.5; ±50 is beyond 3σ.
    expect(routes.sendgrid).toBeGreaterThan(650);
    expect(routes.sendgrid).toBeLessThan(750);
    const stats = await stack.api(`/v1/stats?channel=email&from=${encodeURIComponent(from)}`);
    const split = { sendgrid: 0, postmark: 0 } as Record<string, number>;
    for (const bucket of stats.body.buckets) for (const r of ["sendgrid", "postmark"]) split[r]! += bucket.routes?.[r]?.accepted ?? 0;
    // Counters are at least once and may run a moment behind: at least what this test sent.
    expect(split.sendgrid).toBeGreaterThanOrEqual(routes.sendgrid!);
    expect(split.postmark).toBeGreaterThanOrEqual(routes.postmark!);
  });
});
