/**
 * Test helpers for the bridge's SMPP side: a minimal SMSC on node-smpp's own server
 * (`smpp.createServer`, 127.0.0.1, port 0) that the test drives, and the bridge's SMPP config.
 * The DLR/MO posts go to the fake edge in fixtures/fake-edge.ts.
 *
 * The SMSC binds anyone with the right system_id/password (transceiver, transmitter, receiver),
 * answers enquire_link, and answers each submit_sm as `decide` says: "ok" (ESME_ROK with a fresh
 * id, written in base 10 or 16), a command_status, "hold" (kept until `releaseHeld`), "ignore"
 * (never answered), or "answer_then_drop" (ESME_ROK, then the connection is closed). It records
 * every submit (when, on which session, raw short_message) and how many were outstanding (received,
 * not answered) at most, per session and overall.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import smpp, { type PDU, type Server, type Session } from "smpp";
import type { Config } from "../../bridge/src/config.ts";
import type { SmppRouteConfig } from "../../bridge/src/config.ts";
import { keepRawMessages, rawBytes } from "../../bridge/src/smpp/pdu.ts";
import { WAIT_MS, waitFor } from "../wait.ts";
import { SECRET } from "./fixtures/signed.ts";

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
  /** Sessions open now (bound or not), with their index and the enquire_links each carried. */
  sessions: Array<{ index: number; session: Session; bound: string | null; enquireLinks: number }>;
  stats: { outstanding: number; maxOutstanding: number; maxPerSession: number };
  decide: (submit: ReceivedSubmit, n: number) => SubmitAnswer;
  /** Answer (ESME_ROK) the held submits, oldest first (all when n is undefined). */
  releaseHeld(n?: number): number;
  held(): number;
  answerEnquireLink: boolean;
  /** Sends a deliver_sm on a bound receiving session; resolves with its response (or null after `ms`); `at` = when it came. */
  deliver(params: Record<string, unknown>, ms?: number, command?: "deliver_sm" | "data_sm"): Promise<{ status: number; at: number } | null>;
  /**
   * Resolves once every bound session has carried `n` more enquire_links than now. A session
   * carries PDUs in order, so whatever the bridge wrote before them has arrived: the marker that
   * lets a test say "nothing more was written" without sleeping. Needs a short enquireLinkMs.
   */
  pastEnquireLinks(n?: number): Promise<void>;
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
    async deliver(params, ms = WAIT_MS, command = "deliver_sm") {
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
    async pastEnquireLinks(n = 2) {
      const marks = smsc.sessions.filter((s) => s.bound).map((s) => ({ entry: s, until: s.enquireLinks + n }));
      await waitFor(() => marks.every((m) => m.entry.enquireLinks >= m.until), `${n} more enquire_links on each session`);
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
    const entry = { index, session, bound: null as string | null, enquireLinks: 0 };
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
      entry.enquireLinks++;
      if (smsc.answerEnquireLink) session.send(pdu.response());
    });
    session.on("unbind", (pdu: PDU) => {
      smsc.unbinds++;
      session.send(pdu.response(), () => session.close());
    });
    session.on("submit_sm", (pdu: PDU) => {
      const submit: ReceivedSubmit = {
        at: performance.now(),
        session: index,
        pdu,
        bytes: rawBytes(pdu, "short_message") ?? Buffer.alloc(0),
        payload: rawBytes(pdu, "message_payload"),
      };
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
