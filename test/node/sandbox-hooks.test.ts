// The sandbox's webhook receiver (/_sandbox/hooks): what it keeps of a delivery (raw bytes,
// headers, order), how it answers (the behaviour queue, redirects, Retry-After, hangs) and its
// caps. Deliveries are sent with node:http where the bytes on the wire matter, else with fetch.
import { createServer } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HookLimitError, HookStore } from "../../sandbox/hooks.ts";
import { connectWebhookReceiver } from "../../sandbox/stack.ts";
import { waitFor } from "../wait.ts";
import type { Arrival } from "../../sandbox/hooks.ts";
import { closeHttpServer, listenLocal } from "./fixtures/http-server.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Answer = { status: number; headers: Headers; text: string };

let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await startTestSandbox();
});

afterAll(async () => {
  await sandbox?.close();
});

let hookCount = 0;
/** A fresh hook per test, so tests share the sandbox and nothing else. */
async function hook(prefix = "h"): Promise<{ name: string; url: string }> {
  const name = `${prefix}-${++hookCount}`;
  const res = await control(sandbox, "POST", "/_sandbox/hooks", { name });
  expect(res.status).toBe(201);
  return { name, url: ((await res.json()) as { url: string }).url };
}

async function deliver(url: string, body = '{"type":"message.delivered"}', init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function received(name: string, target: Pick<TestSandbox, "httpUrl"> = sandbox): Promise<Arrival[]> {
  const res = await control(target, "GET", `/_sandbox/hooks/${name}/received`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { received: Arrival[] }).received;
}

async function behave(name: string, behaviour: Record<string, unknown>): Promise<Response> {
  return control(sandbox, "POST", `/_sandbox/hooks/${name}/behaviour`, behaviour);
}

async function statusesOf(url: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await deliver(url, `{"n":${i}}`)).status);
  return statuses;
}

describe("making hooks", () => {
  it("answers 201 with the receiving URL, and 200 with the same URL when the name exists, keeping what it received", async () => {
    const res = await control(sandbox, "POST", "/_sandbox/hooks", { name: "made_Here-1" });
    expect(res.status).toBe(201);
    const url = `${sandbox.httpUrl}/_sandbox/hooks/made_Here-1`;
    expect(await res.json()).toEqual({ name: "made_Here-1", url });
    expect((await deliver(url)).status).toBe(200);

    const again = await control(sandbox, "POST", "/_sandbox/hooks", { name: "made_Here-1" });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ name: "made_Here-1", url });
    expect(await received("made_Here-1")).toHaveLength(1);
    const listed = (await (await control(sandbox, "GET", "/_sandbox/hooks")).json()) as { hooks: Array<Record<string, unknown>> };
    expect(listed.hooks).toContainEqual({ name: "made_Here-1", url, received: 1, waiting: 0, behaviours: [] });
  });

  it("takes names of 1 to 64 of [A-Za-z0-9_-] and answers 400 with details for others", async () => {
    expect((await control(sandbox, "POST", "/_sandbox/hooks", { name: "x".repeat(64) })).status).toBe(201);
    for (const name of ["", "x".repeat(65), "a b", "a.b", "a/b", "é", 7, null]) {
      const res = await control(sandbox, "POST", "/_sandbox/hooks", { name });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          code: "invalid_name",
          message: expect.stringContaining("1 to 64"),
          details: [{ path: "name", message: expect.any(String) }],
        },
      });
    }
    expect((await control(sandbox, "POST", "/_sandbox/hooks", {})).status).toBe(400);
  });
});

describe("arrivals", () => {
  it("keeps each delivery in arrival order: the raw body byte for byte, headers by lower-case name, method and query", async () => {
    const { name, url } = await hook();
    // Spacing, key order, escapes and multi-byte characters a re-serialisation would change.
    const bodies = [
      '{"type":"message.delivered", "timestamp":"2025-01-01T00:00:00.000Z",\n  "data":{"to":"zoë@example.com","mark":"📬\\u00e9"}}',
      '{"type":"message.bounced","data":{}}   ',
      "",
    ];
    const answers: Array<{ status: number; body: string; contentType: string | undefined }> = [];
    for (const [i, body] of bodies.entries()) {
      answers.push(
        await rawRequest(`${url}?attempt=${i + 1}`, i === 1 ? "PUT" : "POST", Buffer.from(body, "utf8"), [
          "Webhook-Id",
          `msg_${i}`,
          "webhook-timestamp",
          "1735689600",
          "Webhook-Signature",
          "v1,c2lnbmF0dXJl",
          "X-Repeated",
          "one",
          "x-repeated",
          "two",
          "Content-Type",
          "application/json",
        ]),
      );
    }
    expect(answers).toEqual(bodies.map(() => ({ status: 200, body: '{"ok":true}', contentType: "application/json; charset=utf-8" })));

    const arrivals = await received(name);
    expect(arrivals.map((a) => a.body)).toEqual(bodies);
    expect(arrivals.map((a) => Buffer.byteLength(a.body))).toEqual(bodies.map((b) => Buffer.byteLength(b)));
    expect(arrivals.map((a) => a.method)).toEqual(["POST", "PUT", "POST"]);
    expect(arrivals.map((a) => a.query)).toEqual(["?attempt=1", "?attempt=2", "?attempt=3"]);
    for (const [i, arrival] of arrivals.entries()) {
      expect(arrival).toMatchObject({ status: 200, delayMs: 0, aborted: false });
      expect(arrival.headers).toMatchObject({
        "webhook-id": `msg_${i}`,
        "webhook-timestamp": "1735689600",
        "webhook-signature": "v1,c2lnbmF0dXJl",
        "x-repeated": "one, two",
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(bodies[i]!)),
      });
      expect(Object.keys(arrival.headers).every((key) => key === key.toLowerCase())).toBe(true);
      expect(new Date(arrival.at).toISOString()).toBe(arrival.at);
    }
    expect(arrivals.map((a) => a.at)).toEqual(arrivals.map((a) => a.at).sort());
  });

  it("DELETE …/received empties the list", async () => {
    const { name, url } = await hook();
    await deliver(url);
    expect((await control(sandbox, "DELETE", `/_sandbox/hooks/${name}/received`)).status).toBe(204);
    expect(await received(name)).toEqual([]);
    await deliver(url, '{"after":true}');
    expect((await received(name)).map((a) => a.body)).toEqual(['{"after":true}']);
  });

  it("answers 413 past 256 KiB and keeps the delivery, cut", async () => {
    const { name, url } = await hook();
    const answer = await deliver(url, "x".repeat(256 * 1024 + 10));
    expect(answer.status).toBe(413);
    const [arrival] = await received(name);
    expect(arrival).toMatchObject({ status: 413, body: "x".repeat(256 * 1024) });
  });
});

describe("behaviour", () => {
  it("{500, times:3} then {200}: 500, 500, 500, then 200 for ever", async () => {
    const { name, url } = await hook();
    expect(await (await behave(name, { status: 500, times: 3 })).json()).toEqual({
      behaviours: [{ status: 500, remaining: 3, delayMs: 0, retryAfter: null, body: null }],
    });
    const res = await behave(name, { status: 200 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { behaviours: unknown[] }).behaviours).toEqual([
      { status: 500, remaining: 3, delayMs: 0, retryAfter: null, body: null },
      { status: 200, remaining: null, delayMs: 0, retryAfter: null, body: null },
    ]);
    expect(await statusesOf(url, 6)).toEqual([500, 500, 500, 200, 200, 200]);
    expect((await received(name)).map((a) => a.status)).toEqual([500, 500, 500, 200, 200, 200]);
    const queue = await (await control(sandbox, "GET", `/_sandbox/hooks/${name}/behaviour`)).json();
    expect(queue).toEqual({ behaviours: [{ status: 200, remaining: null, delayMs: 0, retryAfter: null, body: null }] });
  });

  it("counted behaviours run in turn and then the hook is back to 200", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 500, times: 2 });
    await behave(name, { status: 429, times: 1 });
    expect(await statusesOf(url, 4)).toEqual([500, 500, 429, 200]);
  });

  it("an open-ended behaviour lasts until the next post, which replaces it; DELETE …/behaviour is 200 at once", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 503 });
    expect(await statusesOf(url, 2)).toEqual([503, 503]);
    const res = await behave(name, { status: 410, times: 1 });
    expect(((await res.json()) as { behaviours: Array<{ status: number }> }).behaviours.map((b) => b.status)).toEqual([410]);
    expect(await statusesOf(url, 2)).toEqual([410, 200]);

    await behave(name, { status: 500, times: 5 });
    await behave(name, { status: 502 });
    expect(await statusesOf(url, 1)).toEqual([500]);
    expect((await control(sandbox, "DELETE", `/_sandbox/hooks/${name}/behaviour`)).status).toBe(204);
    expect(await statusesOf(url, 2)).toEqual([200, 200]);
  });

  it("410 Gone, with a body of the caller's", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 410, body: "endpoint removed" });
    for (const answer of [await deliver(url), await deliver(url)]) {
      expect(answer).toMatchObject({ status: 410, text: "endpoint removed" });
      expect(answer.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    }
    await behave(name, { status: 200, body: '{"received":true}', times: 1 });
    const answer = await deliver(url);
    expect(answer).toMatchObject({ status: 200, text: '{"received":true}' });
    expect(answer.headers.get("content-type")).toBe("application/json; charset=utf-8");
  });

  it("a 3xx points at <name>.redirected, where a client that follows is caught", async () => {
    const { name, url } = await hook("redir");
    const target = `${sandbox.httpUrl}/_sandbox/hooks/${name}.redirected`;
    await behave(name, { status: 301, times: 1 });
    // The target exists as soon as the 3xx is queued.
    expect(await received(`${name}.redirected`)).toEqual([]);

    const manual = await deliver(url, '{"n":1}', { redirect: "manual" });
    expect(manual.status).toBe(301);
    expect(manual.headers.get("location")).toBe(target);
    expect(await received(`${name}.redirected`)).toEqual([]);

    // fetch follows a 301 with a GET, and a 307 with the same POST and body.
    await behave(name, { status: 301, times: 1 });
    await behave(name, { status: 307, times: 1 });
    expect((await deliver(url, '{"n":2}')).status).toBe(200);
    expect((await deliver(url, '{"n":3}')).status).toBe(200);
    const caught = await received(`${name}.redirected`);
    expect(caught.map((a) => [a.method, a.body])).toEqual([
      ["GET", ""],
      ["POST", '{"n":3}'],
    ]);
    expect((await received(name)).map((a) => a.status)).toEqual([301, 301, 307]);
  });

  it("sends Retry-After as given: seconds, or any text", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 429, retryAfter: 30, times: 1 });
    await behave(name, { status: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", times: 1 });
    const first = await deliver(url);
    expect([first.status, first.headers.get("retry-after")]).toEqual([429, "30"]);
    const second = await deliver(url);
    expect([second.status, second.headers.get("retry-after")]).toEqual([503, "Wed, 21 Oct 2015 07:28:00 GMT"]);
    const third = await deliver(url);
    expect([third.status, third.headers.get("retry-after")]).toEqual([200, null]);
  });

  it("a hang: recorded at arrival, unanswered; the next delivery takes the next step at once; a client that leaves ends it", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 200, delayMs: 120_000, times: 1 });
    await behave(name, { status: 201, times: 1 });
    const leaving = new AbortController();
    const hung = deliver(url, '{"hung":true}', { signal: leaving.signal }).catch((error: unknown) => error as Error);

    const [waiting] = await waitFor(async () => {
      const arrivals = await received(name);
      return arrivals.length === 1 ? arrivals : null;
    }, "the hung delivery to be recorded");
    expect(waiting).toMatchObject({ body: '{"hung":true}', status: null, delayMs: 120_000, aborted: false });
    expect((await deliver(url, '{"next":true}')).status).toBe(201);
    expect((await received(name)).map((a) => [a.body, a.status])).toEqual([
      ['{"hung":true}', null],
      ['{"next":true}', 201],
    ]);

    leaving.abort();
    expect(((await hung) as Error).name).toBe("AbortError");
    const [left] = await waitFor(async () => {
      const arrivals = await received(name);
      return arrivals[0]?.aborted ? arrivals : null;
    }, "the hung delivery to be marked aborted");
    // Never answered, so never a success.
    expect(left).toMatchObject({ status: null, aborted: true });
    const listed = (await (await control(sandbox, "GET", "/_sandbox/hooks")).json()) as { hooks: Array<{ name: string; waiting: number }> };
    expect(listed.hooks.find((h) => h.name === name)?.waiting).toBe(0);
    // The server is fine: the next delivery is answered (the queue is empty again).
    expect((await deliver(url)).status).toBe(200);
  });

  it("a delay with a client that waits: answered after delayMs, then recorded with its status", async () => {
    const { name, url } = await hook();
    await behave(name, { status: 202, delayMs: 1_500, times: 1 });
    const started = Date.now();
    const answer = deliver(url, '{"slow":true}');
    await waitFor(async () => (await received(name))[0]?.status === null, "the delayed delivery to be recorded unanswered");
    expect((await answer).status).toBe(202);
    // Timers may fire a millisecond early against Date.now().
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_490);
    expect(await received(name)).toEqual([expect.objectContaining({ status: 202, delayMs: 1_500, aborted: false })]);
  });
});

describe("errors", () => {
  it("answers 404 for unknown names on every route", async () => {
    const calls: Array<[string, string, unknown?]> = [
      ["POST", "/_sandbox/hooks/nobody", { type: "x" }],
      ["GET", "/_sandbox/hooks/nobody/received"],
      ["DELETE", "/_sandbox/hooks/nobody/received"],
      ["POST", "/_sandbox/hooks/nobody/behaviour", { status: 500 }],
      ["GET", "/_sandbox/hooks/nobody/behaviour"],
      ["DELETE", "/_sandbox/hooks/nobody/behaviour"],
      ["GET", "/_sandbox/hooks/nobody.redirected/received"],
    ];
    for (const [method, path, body] of calls) {
      const res = await control(sandbox, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toEqual({ error: { code: "unknown_hook", message: expect.stringContaining("nobody"), details: [] } });
    }
  });

  it("answers 400 with each problem in details for a bad behaviour, and queues nothing", async () => {
    const { name, url } = await hook();
    const bad: Array<[Record<string, unknown>, string[]]> = [
      [{}, ["status"]],
      [{ status: 99 }, ["status"]],
      [{ status: 600 }, ["status"]],
      [{ status: "500" }, ["status"]],
      [{ status: 500.5 }, ["status"]],
      [{ status: 500, times: 0 }, ["times"]],
      [{ status: 500, times: 1.5 }, ["times"]],
      [{ status: 500, times: null }, ["times"]],
      [{ status: 500, delayMs: -1 }, ["delayMs"]],
      [{ status: 500, delayMs: 120_001 }, ["delayMs"]],
      [{ status: 503, retryAfter: "" }, ["retryAfter"]],
      [{ status: 503, retryAfter: "1\r\nx-injected: yes" }, ["retryAfter"]],
      [{ status: 503, retryAfter: -5 }, ["retryAfter"]],
      [{ status: 200, body: 42 }, ["body"]],
      [{ status: 200, body: "x".repeat(8 * 1024 + 1) }, ["body"]],
      [{ status: 200, time: 3 }, ["time"]],
      [{ status: 0, times: 0, delayMs: "soon" }, ["status", "times", "delayMs"]],
    ];
    for (const [behaviour, paths] of bad) {
      const res = await behave(name, behaviour);
      expect(res.status, JSON.stringify(behaviour).slice(0, 80)).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string; details: Array<{ path: string }> } };
      expect(body.error.code).toBe("invalid_behaviour");
      expect(body.error.details.map((d) => d.path)).toEqual(paths);
    }
    const notJson = await fetch(`${url}/behaviour`, { method: "POST", body: "{status: 500" });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    expect((await behave(name, { status: 100, times: 1, delayMs: 120_000 })).status).toBe(200);
    expect((await control(sandbox, "DELETE", `/_sandbox/hooks/${name}/behaviour`)).status).toBe(204);
    expect(await statusesOf(url, 1)).toEqual([200]);
  });
});

describe("caps", () => {
  it("by default: 1,000 hooks, then creating one more is refused; 10,000 arrivals per hook, the oldest dropped", () => {
    const hooks = new HookStore();
    for (let i = 0; i < 1_000; i++) hooks.create(`h${i}`);
    expect(() => hooks.create("one-more")).toThrow(HookLimitError);
    expect(hooks.create("h0").created).toBe(false);

    for (let i = 0; i < 10_001; i++) hooks.arrive("h0", { method: "POST", query: "", headers: {}, body: String(i) });
    const kept = hooks.received("h0")!;
    expect(kept).toHaveLength(10_000);
    expect([kept[0]!.body, kept.at(-1)!.body]).toEqual(["1", "10000"]);
  });

  it("keeps at most maxBytes over all hooks, dropping the oldest arrival anywhere", () => {
    const hooks = new HookStore({ maxBytes: 10_000 });
    hooks.create("a");
    hooks.create("b");
    const arrive = (name: string, body: string) => hooks.arrive(name, { method: "POST", query: "", headers: {}, body });
    arrive("a", "a1".padEnd(3_000));
    arrive("b", "b1".padEnd(3_000));
    arrive("a", "a2".padEnd(3_000));
    expect(hooks.received("a")!.length + hooks.received("b")!.length).toBe(3);
    arrive("b", "b2".padEnd(3_000));
    expect(hooks.received("a")!.map((a) => a.body.trim())).toEqual(["a2"]);
    expect(hooks.received("b")!.map((a) => a.body.trim())).toEqual(["b1", "b2"]);
    // One arrival larger than the whole budget is still kept (alone).
    arrive("a", "x".repeat(20_000));
    expect(hooks.received("a")!.map((a) => a.body.length)).toEqual([20_000]);
    expect(hooks.received("b")).toEqual([]);
  });

  it("over HTTP: 409 for one hook too many or one behaviour too many, and only the newest arrivals kept", async () => {
    const small = await startTestSandbox({ certDir: sandbox.certDir, hookLimits: { maxHooks: 3, maxArrivals: 5, maxBehaviours: 2 } });
    try {
      for (const name of ["a", "b", "c"]) expect((await control(small, "POST", "/_sandbox/hooks", { name })).status).toBe(201);
      const refused = await control(small, "POST", "/_sandbox/hooks", { name: "d" });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("too_many_hooks");
      // A 3xx needs a hook for its target: none is left.
      const redirect = await control(small, "POST", "/_sandbox/hooks/a/behaviour", { status: 302 });
      expect(redirect.status).toBe(409);
      expect(((await redirect.json()) as { error: { code: string } }).error.code).toBe("too_many_hooks");

      for (let i = 1; i <= 7; i++) expect((await deliver(`${small.httpUrl}/_sandbox/hooks/a`, `{"n":${i}}`)).status).toBe(200);
      expect((await received("a", small)).map((a) => a.body)).toEqual([3, 4, 5, 6, 7].map((n) => `{"n":${n}}`));

      const post = async (behaviour: Record<string, unknown>) => {
        const res = await control(small, "POST", "/_sandbox/hooks/b/behaviour", behaviour);
        const body = (await res.json()) as { behaviours?: Array<{ status: number }>; error?: { code: string } };
        return [res.status, body.behaviours?.map((b) => b.status) ?? body.error?.code];
      };
      expect(await post({ status: 500, times: 1 })).toEqual([200, [500]]);
      expect(await post({ status: 503 })).toEqual([200, [500, 503]]);
      // An open-ended one at the tail is replaced, not added to: a full queue still takes the post.
      expect(await post({ status: 502 })).toEqual([200, [500, 502]]);
      expect(await post({ status: 504, times: 1 })).toEqual([200, [500, 504]]);
      expect(await post({ status: 500, times: 1 })).toEqual([409, "too_many_behaviours"]);

      // Closing the sandbox ends a hang: the wait is cut with the connection, no timer left behind.
      expect((await control(small, "POST", "/_sandbox/hooks/c/behaviour", { status: 200, delayMs: 120_000 })).status).toBe(200);
      const hung = deliver(`${small.httpUrl}/_sandbox/hooks/c`).catch((error: unknown) => error as Error);
      await waitFor(() => small.hooks.received("c")?.length === 1, "the hung delivery to be recorded");
      await small.close();
      expect(await hung).toBeInstanceOf(Error);
      await waitFor(() => small.hooks.received("c")?.[0]?.aborted, "the hang to end with its connection");
      expect(small.hooks.received("c")).toEqual([expect.objectContaining({ status: null, aborted: true })]);
    } finally {
      await small.close();
    }
  });
});

describe("npm start's receiver (connectWebhookReceiver)", () => {
  /** A Worker with only /v1/webhook-endpoints (or none: 404), keeping what it was sent. */
  async function fakeWorker(serves: boolean) {
    const endpoints: Array<{ id: string; url: string; description?: string }> = [];
    const calls: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        calls.push(`${req.method} ${req.url} ${req.headers.authorization}`);
        const json = (status: number, body: unknown) =>
          res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
        if (!serves || req.url !== "/v1/webhook-endpoints") return json(404, { error: { code: "not_found" } });
        if (req.method === "GET") return json(200, { data: endpoints.map((e) => ({ ...e, enabled: true })) });
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { url: string; description?: string };
        const endpoint = { id: `we_${endpoints.length + 1}`, ...input };
        endpoints.push(endpoint);
        json(201, { ...endpoint, secret: "whsec_c2VjcmV0" });
      });
    });
    const origin = `http://127.0.0.1:${await listenLocal(server)}`;
    return { origin, endpoints, calls, close: () => closeHttpServer(server) };
  }

  it("makes the hook dev and an endpoint at its URL once; a later run finds it (no secret then)", async () => {
    const worker = await fakeWorker(true);
    try {
      const url = `${sandbox.httpUrl}/_sandbox/hooks/dev`;
      const first = await connectWebhookReceiver(sandbox, worker.origin, "key-1");
      expect(first).toEqual({ name: "dev", url, endpointId: "we_1", secret: "whsec_c2VjcmV0" });
      expect(worker.endpoints).toEqual([{ id: "we_1", url, description: "sandbox receiver (npm start)" }]);
      expect(await received("dev")).toEqual([]);
      const second = await connectWebhookReceiver(sandbox, worker.origin, "key-1");
      expect(second).toEqual({ name: "dev", url, endpointId: "we_1", secret: null });
      expect(worker.endpoints).toHaveLength(1);
      expect(worker.calls).toEqual([
        "GET /v1/webhook-endpoints Bearer key-1",
        "POST /v1/webhook-endpoints Bearer key-1",
        "GET /v1/webhook-endpoints Bearer key-1",
      ]);
    } finally {
      await worker.close();
    }
  });

  it("is null when the Worker has no /v1/webhook-endpoints (404)", async () => {
    const worker = await fakeWorker(false);
    try {
      expect(await connectWebhookReceiver(sandbox, worker.origin, "key-1")).toBeNull();
      expect(worker.calls).toEqual(["GET /v1/webhook-endpoints Bearer key-1"]);
    } finally {
      await worker.close();
    }
  });
});

/** A request written byte for byte on a socket: headers exactly as listed (names' case, repeats). */
async function rawRequest(
  url: string,
  method: string,
  body: Buffer,
  headers: string[],
): Promise<{ status: number; body: string; contentType: string | undefined }> {
  const { hostname, port, pathname, search } = new URL(url);
  const lines = [`${method} ${pathname}${search} HTTP/1.1`, `Host: ${hostname}:${port}`, "Connection: close"];
  for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  lines.push(`Content-Length: ${body.length}`);
  const socket = connect(Number(port), hostname);
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), body]));
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const response = Buffer.concat(chunks).toString("utf8");
  const [head = "", answer = ""] = response.split("\r\n\r\n");
  const [statusLine = "", ...fields] = head.split("\r\n");
  const contentType = fields.find((field) => /^content-type:/i.test(field))?.replace(/^content-type:\s*/i, "");
  return { status: Number(statusLine.split(" ")[1]), body: answer, contentType };
}
