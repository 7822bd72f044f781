/**
 * One SMPP connection to an SMSC, kept bound for as long as the bridge runs:
 *
 *   connect (TCP or TLS) → bind_transceiver | bind_transmitter | bind_receiver → up
 *     ├─ enquire_link every `enquireLinkMs`; no enquire_link_resp within `responseTimeoutMs` → dead: close
 *     ├─ the SMSC's enquire_link → enquire_link_resp; its unbind → unbind_resp, close
 *     ├─ deliver_sm / data_sm → `onInbound` (the answer is the caller's: after the edge's 2xx)
 *     └─ socket closed or error → down → reconnect after an exponential backoff with full jitter
 *        between `reconnectMinMs` and `reconnectMaxMs`, forever, until `close()`
 *
 * Submits go through `submit()` with a slot of the connection's current `Window` (see
 * window.ts): the slot is given back when the submit_sm_resp arrives or the session ends. A
 * response later than `responseTimeoutMs` makes the submit's answer "timeout" (the slot stays
 * taken until the late response or the end of the session); when every slot of the window is
 * held by such submits, the session is restarted so the bind cannot stall.
 */
import smpp, { type PDU, type Session } from "smpp";
import type { Logger } from "pino";
import { Window } from "./window.ts";

export type BindState = "down" | "binding" | "up";
export type Role = "transceiver" | "transmitter" | "receiver";

export type Endpoint = {
  host: string;
  port: number;
  systemId: string;
  password: string;
  systemType?: string | undefined;
  tls: boolean;
  /** Extra trusted CA (PEM text). */
  ca?: string | undefined;
};

export type ConnectionOptions = {
  route: string;
  endpoint: Endpoint;
  role: Role;
  window: number;
  enquireLinkMs: number;
  responseTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
  /** Called on every state change (and when a slot is given back), so the route can hand out slots. */
  onChange(): void;
  /** A deliver_sm or data_sm; `reply(status)` answers it on the session it came on (false if that session is gone). */
  onInbound?(pdu: PDU, reply: (status: number) => boolean): void;
  /** Random in [0, 1) for the backoff jitter (tests). */
  random?: () => number;
};

export type SubmitAnswer =
  | { kind: "response"; status: number; messageId: string; ms: number }
  | { kind: "timeout" }
  | { kind: "connection_lost" };

type Pending = {
  window: Window;
  settled: boolean;
  timedOut: boolean;
  started: number;
  settle(answer: SubmitAnswer): void;
};

const ESME_RINVCMDID = 0x03;

export class SmppConnection {
  readonly options: ConnectionOptions;
  #state: BindState = "down";
  #session: Session | null = null;
  #window: Window;
  /** Submits waiting for their response, oldest first (Map order): one timer serves them all. */
  #pending = new Map<number, Pending>();
  #responseTimer: NodeJS.Timeout | undefined;
  #timedOut = 0;
  #closing = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #enquireTimer: NodeJS.Timeout | undefined;
  #enquireDeadline: NodeJS.Timeout | undefined;
  #connects = 0;
  #binds = 0;
  #lastError: string | undefined;

  constructor(options: ConnectionOptions) {
    this.options = options;
    this.#window = new Window(options.window);
  }

  get state(): BindState {
    return this.#state;
  }

  /** The current session's window (a new one per session). */
  get window(): Window {
    return this.#window;
  }

  /** Sessions attempted and binds that succeeded since start. */
  get counts(): { connects: number; binds: number } {
    return { connects: this.#connects, binds: this.#binds };
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Bound and able to take submit_sm (not a receiver, not closing). */
  get canSubmit(): boolean {
    return this.#state === "up" && this.options.role !== "receiver" && !this.#closing && this.#session?.socket.writable === true;
  }

  get label(): string {
    const { host, port } = this.options.endpoint;
    return `${host}:${port}`;
  }

  start(): void {
    if (this.#closing || this.#session || this.#retryTimer) return;
    this.#connect();
  }

  /**
   * Writes one submit_sm with a slot taken from `slot` (this connection's window). Returns null
   * when nothing was written (the session the slot belongs to is gone, or the socket is not
   * writable); the slot is then given back.
   */
  submit(window: Window, params: Record<string, unknown>): Promise<SubmitAnswer> | null {
    const session = this.#session;
    if (!session || window !== this.#window || !this.canSubmit) {
      window.release();
      return null;
    }
    let settle!: (answer: SubmitAnswer) => void;
    const answer = new Promise<SubmitAnswer>((resolve) => (settle = resolve));
    const pending: Pending = { window, settled: false, timedOut: false, started: performance.now(), settle: () => {} };
    pending.settle = (a) => {
      if (pending.settled) return;
      pending.settled = true;
      settle(a);
    };
    const pdu = new smpp.PDU("submit_sm", params);
    // Submits written in the same tick leave in one TCP write instead of one syscall each.
    const { socket } = session;
    if (socket.writable) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    const written = socket.writable && session.send(pdu, (resp) => this.#onSubmitResp(pdu.sequence_number, resp));
    if (!written) {
      // The socket is ending or gone and its close event has not been seen yet: the session is over.
      window.release();
      this.#lost(session, "socket not writable");
      return null;
    }
    this.#pending.set(pdu.sequence_number, pending);
    if (!this.#responseTimer) this.#armResponseTimer(session, pending.started);
    return answer;
  }

  /** Wakes when the submit written at `started` is due; a timer per submit cost more than the submit. */
  #armResponseTimer(session: Session, started: number): void {
    const due = started + this.options.responseTimeoutMs - performance.now();
    this.#responseTimer = setTimeout(() => this.#expireResponses(session), Math.max(0, due));
  }

  /** Submits past the response timeout answer "timeout" (their slots stay taken); the timer moves to the next one. */
  #expireResponses(session: Session): void {
    this.#responseTimer = undefined;
    if (this.#session !== session) return;
    const now = performance.now();
    const timeout = this.options.responseTimeoutMs;
    for (const pending of this.#pending.values()) {
      if (pending.timedOut) continue;
      if (pending.started + timeout > now) {
        this.#armResponseTimer(session, pending.started);
        return;
      }
      pending.timedOut = true;
      this.#timedOut++;
      pending.settle({ kind: "timeout" });
      if (this.#timedOut >= pending.window.size) {
        this.options.log.warn(
          { route: this.options.route, bind: this.label, window: pending.window.size },
          "smpp: every window slot waits for a late submit_sm_resp; restarting the session",
        );
        this.#lost(session, "window stalled by unanswered submits");
        return;
      }
    }
  }

  /**
   * Graceful stop: no reconnects, no new submits; waits (at most `ms`) for the outstanding
   * submit responses and for `inboundIdle` (the inbound messages being handed to the edge), then
   * unbinds and closes.
   */
  async close(ms: number, inboundIdle: () => Promise<void> = () => Promise.resolve()): Promise<void> {
    const deadline = performance.now() + Math.max(0, ms);
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.options.onChange();
    const session = this.#session;
    if (!session) {
      this.#setState("down");
      return;
    }
    await within(Promise.all([this.#drained(), inboundIdle()]), deadline - performance.now());
    if (this.#session === session && this.#state === "up") {
      const unbound = new Promise<void>((resolve) => {
        if (!session.unbind({}, () => resolve())) resolve();
      });
      await within(unbound, Math.min(1_000, Math.max(100, deadline - performance.now())));
    }
    const closed = new Promise<void>((resolve) => {
      if (session.socket.destroyed) resolve();
      else session.socket.once("close", () => resolve());
    });
    session.close();
    if (!(await within(closed, 500))) session.destroy();
    this.#lost(session, "closed");
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if ([...this.#pending.values()].every((p) => p.settled) || !this.#session) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  #connect(): void {
    if (this.#closing) return;
    const { endpoint, log, route, role, responseTimeoutMs } = this.options;
    this.#connects++;
    this.#setState("binding");
    const isIp = /^[\d.]+$|:/.test(endpoint.host);
    const session = smpp.connect({
      host: endpoint.host,
      port: endpoint.port,
      tls: endpoint.tls,
      ...(endpoint.tls ? { ...(endpoint.ca ? { ca: endpoint.ca } : {}), ...(isIp ? {} : { servername: endpoint.host }) } : {}),
    });
    this.#session = session;
    this.#window = new Window(this.options.window);
    this.#timedOut = 0;
    const bindTimer = setTimeout(
      () => {
        this.#lastError = `no bind response within ${responseTimeoutMs} ms`;
        log.warn({ route, bind: this.label, role }, "smpp: connect/bind timed out");
        this.#lost(session, "bind timeout");
      },
      responseTimeoutMs + (endpoint.tls ? responseTimeoutMs : 0),
    );
    session.on("error", (error: Error) => {
      this.#lastError = (error as NodeJS.ErrnoException).code ?? error.message;
      log.debug({ route, bind: this.label, role, err: error }, "smpp: connection error");
      clearTimeout(bindTimer);
      this.#lost(session, this.#lastError);
    });
    session.on("close", () => {
      clearTimeout(bindTimer);
      this.#lost(session, "closed by peer");
    });
    session.on("pdu", (pdu: PDU) => this.#onPdu(session, pdu));
    session.once(endpoint.tls ? "secureConnect" : "connect", () => {
      if (this.#session !== session) return;
      const command = role === "transceiver" ? "bind_transceiver" : role === "transmitter" ? "bind_transmitter" : "bind_receiver";
      const params = {
        system_id: endpoint.systemId,
        password: endpoint.password,
        system_type: endpoint.systemType ?? "",
        interface_version: 0x34,
      };
      const sent = session.send(new smpp.PDU(command, params), (resp) => {
        clearTimeout(bindTimer);
        if (this.#session !== session) return;
        if (resp.command_status !== 0) {
          this.#lastError = `bind refused: 0x${resp.command_status.toString(16).padStart(8, "0")}`;
          log.error(
            { route, bind: this.label, role, systemId: endpoint.systemId, commandStatus: resp.command_status },
            "smpp: bind refused",
          );
          this.#lost(session, this.#lastError);
          return;
        }
        this.#attempt = 0;
        this.#binds++;
        this.#lastError = undefined;
        log.info({ route, bind: this.label, role, systemId: endpoint.systemId, smsc: resp.system_id }, "smpp: bound");
        this.#startEnquireLink(session);
        this.#setState("up");
      });
      if (!sent) this.#lost(session, "socket not writable");
    });
  }

  #startEnquireLink(session: Session): void {
    const { enquireLinkMs, responseTimeoutMs, log, route } = this.options;
    clearInterval(this.#enquireTimer);
    this.#enquireTimer = setInterval(() => {
      if (this.#session !== session || this.#enquireDeadline) return;
      const sent = session.enquire_link({}, () => {
        clearTimeout(this.#enquireDeadline);
        this.#enquireDeadline = undefined;
      });
      if (!sent) return this.#lost(session, "socket not writable");
      this.#enquireDeadline = setTimeout(() => {
        this.#enquireDeadline = undefined;
        this.#lastError = `no enquire_link_resp within ${responseTimeoutMs} ms`;
        log.warn({ route, bind: this.label }, "smpp: enquire_link unanswered; closing the session");
        this.#lost(session, this.#lastError);
      }, responseTimeoutMs);
    }, enquireLinkMs);
  }

  #onPdu(session: Session, pdu: PDU): void {
    if (this.#session !== session || pdu.isResponse()) return; // responses go to their callbacks
    switch (pdu.command) {
      case "enquire_link":
        session.send(pdu.response());
        return;
      case "unbind":
        this.options.log.info({ route: this.options.route, bind: this.label }, "smpp: the SMSC unbound");
        session.send(pdu.response(), () => session.close());
        this.#setState("down"); // no more submits on it; the close that follows reconnects
        return;
      case "deliver_sm":
      case "data_sm": {
        const reply = (status: number): boolean => {
          if (this.#session !== session || !session.socket.writable) return false;
          return session.send(pdu.response(status === 0 ? {} : { command_status: status }));
        };
        if (this.options.onInbound) this.options.onInbound(pdu, reply);
        else reply(0);
        return;
      }
      case "alert_notification":
      case "outbind":
        return; // no response defined
      default:
        session.send(new smpp.PDU("generic_nack", { sequence_number: pdu.sequence_number, command_status: ESME_RINVCMDID }));
    }
  }

  #onSubmitResp(sequence: number, resp: PDU): void {
    const pending = this.#pending.get(sequence);
    if (!pending) return;
    this.#pending.delete(sequence);
    if (pending.timedOut) this.#timedOut = Math.max(0, this.#timedOut - 1);
    pending.window.release();
    pending.settle({
      kind: "response",
      status: resp.command_status,
      messageId: typeof resp.message_id === "string" ? resp.message_id : "",
      ms: performance.now() - pending.started,
    });
    this.options.onChange();
  }

  /** The session is over (error, close, timeout, refused bind): fail what waits on it, reconnect later. */
  #lost(session: Session, why: string): void {
    if (this.#session !== session) return;
    this.#session = null;
    clearInterval(this.#enquireTimer);
    clearTimeout(this.#enquireDeadline);
    this.#enquireTimer = undefined;
    this.#enquireDeadline = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    clearTimeout(this.#responseTimer);
    this.#responseTimer = undefined;
    for (const p of pending) {
      p.window.release();
      p.settle({ kind: "connection_lost" });
    }
    session.removeAllListeners("pdu");
    session.on("error", () => {}); // late socket errors of a dropped session
    if (!session.socket.destroyed) session.destroy();
    const wasUp = this.#state === "up";
    this.#setState("down");
    if (this.#closing) {
      this.options.log.info({ route: this.options.route, bind: this.label, role: this.options.role }, "smpp: session closed");
    } else if (wasUp || pending.length > 0) {
      this.options.log.warn(
        {
          route: this.options.route,
          bind: this.label,
          role: this.options.role,
          why,
          unanswered: pending.filter((p) => !p.timedOut).length,
        },
        "smpp: session lost",
      );
    }
    if (!this.#closing) this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const { reconnectMinMs, reconnectMaxMs } = this.options;
    const random = this.options.random ?? Math.random;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.#attempt, 30));
    const delay = reconnectMinMs + random() * Math.max(0, ceiling - reconnectMinMs);
    this.#attempt++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect();
    }, delay);
  }

  #setState(state: BindState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.options.onChange();
  }
}

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}
