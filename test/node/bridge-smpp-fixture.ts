/**
 * Test helpers for the bridge's SMPP side: a minimal SMSC on node-smpp's own server
 * (`smpp.createServer`, 127.0.0.1, port 0) that the test drives, and a fake edge (node:http) for
 * the DLR/MO posts that checks their Standard Webhooks signature with `verify` from src/core.
 *
 * The SMSC binds anyone with the right system_id/password (transceiver, transmitter, receiver),
 * answers enquire_link, and answers each submit_sm as `decide` says: "ok" (ESME_ROK with a fresh
 * id, written in base 10 or 16), a command_status, "hold" (kept until `releaseHeld`), "ignore"
 * (never answered), or "answer_then_drop" (ESME_ROK, then the connection is closed). It records
 * every submit (when, on which session, raw short_message) and how many were outstanding (received,
 * not answered) at most, per session and overall.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import smpp, { type PDU, type Server, type Session } from "smpp";
import type { Config } from "../../bridge/src/config.ts";
import type { SmppRouteConfig } from "../../bridge/src/config.ts";
import { keepRawMessages, rawBytes } from "../../bridge/src/smpp/pdu.ts";
import { doorSecret, verify, webhookHeaders } from "../../src/core/standard-webhooks.ts";
import { SECRET } from "./smtp-fixture.ts";

export { SECRET };

export type SubmitAnswer = "ok" | "hold" | "ignore" | "answer_then_drop" | { status: number };

export type ReceivedSubmit = {
  at: number;
  session: number;
  pdu: PDU;
  /** The short_message bytes as written (UDH included). */
  bytes: Buffer;
  payload: Buffer | undefined;
  /** The id given in the answer (ESME_ROK), as written on the wire. */
  id?: string;
  status?: number;
};

export type FakeSmsc = {
  host: string;
  port: number;
  submits: ReceivedSubmit[];
  /** bind PDUs received: {at, command, systemId, ok}. */
  binds: Array<{ at: number; command: string; systemId: string; ok: boolean }>;
  enquireLinks: number;
  /** unbind PDUs received (a graceful close). */
  unbinds: number;
  /** Sessions open now (bound or not), with their index. */
  sessions: Array<{ index: number; session: Session; bound: string | null }>;
  stats: { outstanding: number; maxOutstanding: number; maxPerSession: number };
  decide: (submit: ReceivedSubmit, n: number) => SubmitAnswer;
  /** Answer (ESME_ROK) the held submits, oldest first (all when n is undefined). */
  releaseHeld(n?: number): number;
  held(): number;
  answerEnquireLink: boolean;
  /** Sends a deliver_sm on a bound receiving session; resolves with its response (or null after `ms`); `at` = when it came. */
  deliver(params: Record<string, unknown>, ms?: number, command?: "deliver_sm" | "data_sm"): Promise<{ status: number; at: number } | null>;
  /** Destroys every open session (the server keeps listening). */
  dropAll(): void;
  /** Stops listening and drops every session. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  reset(): void;
  close(): Promise<void>;
};

export type SmscOptions = { systemId?: string; password?: string; idBase?: 10 | 16; port?: number; tls?: { key: string; cert: string } };

export async function startSmsc(options: SmscOptions = {}): Promise<FakeSmsc> {
  keepRawMessages();
  const systemId = options.systemId ?? "lasthop";
  const password = options.password ?? "devpass1";
  const idBase = options.idBase ?? 10;
  let nextId = 0xab0000;
  let sessionCount = 0;
  let held: Array<{ session: Session; pdu: PDU; submit: ReceivedSubmit; index: number }> = [];
  const outstanding = new Map<number, number>();
  const deliverWaiters = new Map<string, (pdu: PDU) => void>();

  const smsc: FakeSmsc = {
    host: "127.0.0.1",
    port: 0,
    submits: [],
    binds: [],
    enquireLinks: 0,
    unbinds: 0,
    sessions: [],
    stats: { outstanding: 0, maxOutstanding: 0, maxPerSession: 0 },
    decide: () => "ok",
    answerEnquireLink: true,
    releaseHeld(n) {
      const take = held.splice(0, n ?? held.length);
      for (const h of take) answer(h.session, h.index, h.pdu, h.submit, 0);
      return take.length;
    },
    held: () => held.length,
    async deliver(params, ms = 3_000, command = "deliver_sm") {
      const entry = smsc.sessions.find((s) => s.bound === "bind_transceiver" || s.bound === "bind_receiver");
      if (!entry) throw new Error("no bound receiving session");
      return new Promise<{ status: number; at: number } | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), ms);
        const sent = entry.session.send(new smpp.PDU(command, params), (resp) => {
          clearTimeout(timer);
          resolve({ status: resp.command_status, at: performance.now() });
        });
        if (!sent) {
          clearTimeout(timer);
          resolve(null);
        }
      });
    },
    dropAll() {
      for (const s of smsc.sessions) s.session.destroy();
    },
    stop: async () => {},
    restart: async () => {},
    reset() {
      smsc.submits = [];
      smsc.binds = [];
      smsc.enquireLinks = 0;
      smsc.unbinds = 0;
      smsc.stats.maxOutstanding = smsc.stats.outstanding;
      smsc.stats.maxPerSession = 0;
      smsc.decide = () => "ok";
      smsc.answerEnquireLink = true;
    },
    close: async () => {},
  };
  void deliverWaiters;

  function newId(): string {
    nextId += 1;
    return idBase === 16 ? nextId.toString(16) : String(nextId);
  }

  function answer(session: Session, index: number, pdu: PDU, submit: ReceivedSubmit, status: number, then?: () => void): void {
    const left = (outstanding.get(index) ?? 0) - 1;
    if (outstanding.has(index)) {
      outstanding.set(index, Math.max(0, left));
      smsc.stats.outstanding = Math.max(0, smsc.stats.outstanding - 1);
    }
    if (status === 0) submit.id = newId();
    submit.status = status;
    if (session.socket.destroyed) return;
    session.send(pdu.response(status === 0 ? { message_id: submit.id } : { command_status: status }), () => then?.());
  }

  function onSession(session: Session): void {
    const index = ++sessionCount;
    const entry = { index, session, bound: null as string | null };
    smsc.sessions.push(entry);
    outstanding.set(index, 0);
    session.on("error", () => {});
    session.socket.on("close", () => {
      smsc.sessions = smsc.sessions.filter((s) => s !== entry);
      smsc.stats.outstanding -= outstanding.get(index) ?? 0;
      outstanding.delete(index);
      held = held.filter((h) => h.session !== session);
    });
    for (const command of ["bind_transceiver", "bind_transmitter", "bind_receiver"]) {
      session.on(command, (pdu: PDU) => {
        const ok = pdu.system_id === systemId && pdu.password === password;
        smsc.binds.push({ at: performance.now(), command, systemId: String(pdu.system_id), ok });
        if (!ok) {
          session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
          return;
        }
        entry.bound = command;
        session.send(pdu.response({ system_id: "fakesmsc" }));
      });
    }
    session.on("enquire_link", (pdu: PDU) => {
      smsc.enquireLinks++;
      if (smsc.answerEnquireLink) session.send(pdu.response());
    });
    session.on("unbind", (pdu: PDU) => {
      smsc.unbinds++;
      session.send(pdu.response(), () => session.close());
    });
    session.on("submit_sm", (pdu: PDU) => {
      const submit: ReceivedSubmit = { at: performance.now(), session: index, pdu, bytes: rawBytes(pdu, "short_message") ?? Buffer.alloc(0), payload: rawBytes(pdu, "message_payload") };
      smsc.submits.push(submit);
      const mine = (outstanding.get(index) ?? 0) + 1;
      outstanding.set(index, mine);
      smsc.stats.outstanding++;
      smsc.stats.maxPerSession = Math.max(smsc.stats.maxPerSession, mine);
      smsc.stats.maxOutstanding = Math.max(smsc.stats.maxOutstanding, smsc.stats.outstanding);
      const decision = smsc.decide(submit, smsc.submits.length);
      if (decision === "hold") held.push({ session, pdu, submit, index });
      else if (decision === "ignore") return;
      else if (decision === "ok") answer(session, index, pdu, submit, 0);
      else if (decision === "answer_then_drop") answer(session, index, pdu, submit, 0, () => session.destroy());
      else answer(session, index, pdu, submit, decision.status);
    });
  }

  const serverOptions = options.tls ? { key: options.tls.key, cert: options.tls.cert } : {};
  let server: Server = smpp.createServer(serverOptions, onSession);
  const listen = async (port: number) => {
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    smsc.port = (server.address() as AddressInfo).port;
  };
  await listen(options.port ?? 0);
  smsc.stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    smsc.dropAll();
    await closed;
  };
  smsc.restart = async () => {
    server = smpp.createServer(serverOptions, onSession);
    await listen(smsc.port);
  };
  smsc.close = () => smsc.stop().catch(() => {});
  return smsc;
}

/** A route for tests: small timeouts, one transceiver bind to the fake SMSC. */
export function testRoute(smsc: { host: string; port: number }, overrides: Partial<SmppRouteConfig> = {}): SmppRouteConfig {
  return {
    name: "test",
    binds: [{ host: smsc.host, port: smsc.port, systemId: "lasthop", password: "devpass1", mode: "transceiver", tls: false }],
    window: 10,
    tps: null,
    useMessagePayload: false,
    submitIdBase: 10,
    receiptIdBase: 10,
    registeredDelivery: true,
    enquireLinkMs: 30_000,
    responseTimeoutMs: 2_000,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    bindWaitMs: 300,
    ...overrides,
  };
}

export function smppConfig(edgeUrl: string, routes: SmppRouteConfig[], overrides: Partial<NonNullable<Config["smpp"]>> = {}): Config {
  return {
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    apns: null,
    logLevel: "silent",
    shutdownTimeoutMs: 3_000,
    smpp: { routes, edgeUrl, edgeTimeoutMs: 1_000, batchTimeoutMs: 10_000, moReassemblyMs: 2_000, ...overrides },
  };
}

// ---------------------------------------------------------------------------------------------
// The fake edge (POST /v1/inbound/sms)

export type EdgeRequest = { path: string; text: string; json: Record<string, unknown>; verified: boolean; at: number };
export type EdgeMode = "accept" | "fail" | "reject" | "hang" | ((request: EdgeRequest) => "accept" | "fail" | "reject" | "hang" | { status: number });

export type FakeEdge = {
  url: string;
  mode: EdgeMode;
  requests: EdgeRequest[];
  /** Resolves when `n` requests have arrived. */
  waitFor(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
};

export async function startEdge(): Promise<FakeEdge> {
  const hanging = new Set<ServerResponse>();
  const edge: FakeEdge = {
    url: "",
    mode: "accept",
    requests: [],
    async waitFor(n, ms = 5_000) {
      const until = performance.now() + ms;
      while (edge.requests.length < n) {
        if (performance.now() > until) throw new Error(`the edge got ${edge.requests.length} requests, expected ${n}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: async () => {},
  };
  const server: HttpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const verdict = await verify(await doorSecret(SECRET, req.url ?? ""), webhookHeaders((name) => req.headers[name]), text);
      const request: EdgeRequest = { path: req.url ?? "", text, json: JSON.parse(text) as Record<string, unknown>, verified: verdict.ok, at: performance.now() };
      edge.requests.push(request);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (!verdict.ok) return reply(401, { error: { code: "unauthorized", message: verdict.reason } });
      const mode = typeof edge.mode === "function" ? edge.mode(request) : edge.mode;
      if (mode === "hang") return void hanging.add(res);
      if (mode === "accept") return reply(202, { ok: true });
      if (mode === "fail") return reply(500, { error: { code: "internal_error", message: "boom" } });
      if (mode === "reject") return reply(422, { error: { code: "invalid", message: "no" } });
      reply(mode.status, {});
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  edge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  edge.close = () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return edge;
}

/** Polls `check` until it is true (or throws after `ms`). */
export async function until(check: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
