// Vonage's SMS API, played on the control server (so a Vonage route's baseUrl is `${httpUrl}/vonage`):
//   POST /vonage/sms/json    form-encoded or JSON: api_key, and api_secret or sig (+ timestamp);
//                            from, to (digits, no +), text, type (text|unicode), client-ref, callback,
//                            status-report-req
// Answers as Vonage does: HTTP 200 with {"message-count", "messages": [...]}, one entry per part
// ({to, message-id, status "0", remaining-balance, message-price, network}); a refusal is still
// HTTP 200, one entry {status, error-text} with the documented codes: 2 a missing parameter,
// 3 an invalid one, 4 bad credentials, 14 a signature that does not match (or no timestamp, or one
// more than 5 minutes off), 23 a callback that is not an http(s) URL, 32 api_secret and sig at once.
// Credentials are random per start (GET /_sandbox/sms/vonage/config); the signature method is
// md5hash unless the sandbox option vonageSignatureMethod says otherwise.
//
// A number chooses the outcome, as for the other SMS simulators: ending 2222 -> status 1
// (Throttled) the first time it is sent to (since start or a clear); 0000 -> accepted, then a
// failed receipt (err-code 3); 1111 -> a late receipt; else delivered. PUT
// /_sandbox/sms/vonage/numbers/{number} {status, errorText?} makes the API answer that status for
// that number (any documented code; 0 clears it).
//
// After acceptance, one signed delivery receipt per part (form POST; msisdn, to, network-code,
// messageId, price, status, scts, err-code, api-key, message-timestamp, client-ref, timestamp,
// nonce, sig: the signature secret and method, computed by provider-webhooks.ts's vonageSignature,
// not src/'s) to the request's `callback`, or the default (PUT /_sandbox/sms/vonage/callback);
// none when neither is set. A non-2xx or no answer is tried up to 5 times with backoff.
//
// Behaviours (setBehaviour): "503" answers 503 before reading the request; "hang" reads it and
// never answers (until the client leaves, at most 120 s); "drop" reads it and destroys the socket;
// each for `times` requests or until set back to "ok".
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { BehaviourSlot, drop, Hanging, type SendStats } from "./behaviour.ts";
import { CappedSet } from "./capped.ts";
import { postWithRetries, type RetryPolicy, readBody, sendJson } from "./http.ts";
import { vonageSignature, type VonageSignatureMethod } from "./provider-webhooks.ts";
import { countSegments } from "./sms-rest.ts";
import { outcomeOf } from "./smsc.ts";
import type { ReceivedStore } from "./store.ts";

export const VONAGE_BEHAVIOURS = ["ok", "503", "hang", "drop"] as const;
export type VonageBehaviour = (typeof VONAGE_BEHAVIOURS)[number];

const MAX_BODY_BYTES = 64 * 1024;
const MAX_TEXT_CHARS = 3200;
const TIMESTAMP_TOLERANCE_S = 5 * 60;
const DLR_RETRIES: RetryPolicy = { tries: 5, firstBackoffMs: 200, timeoutMs: 5_000 };
const PART_PRICE = 0.0333;
const NETWORK = "310260";

/** The documented error-text of each status the simulator answers. */
export const VONAGE_ERRORS: Readonly<Record<number, string>> = {
  1: "Throttled",
  2: "Missing Parameters",
  3: "Invalid Parameters",
  4: "Bad Credentials",
  5: "Internal Error",
  6: "Invalid Message",
  7: "Number Barred",
  8: "Partner Account Barred",
  9: "Partner Quota Violation",
  10: "Too Many Existing Binds",
  11: "Account Not Enabled For HTTP",
  12: "Message Too Long",
  14: "Invalid Signature",
  15: "Invalid Sender Address",
  22: "Invalid Network Code",
  23: "Invalid Callback Url",
  29: "Non-Whitelisted Destination",
  32: "Signature And API Secret Disallowed",
  33: "Number De-activated",
};

export type VonageSmsOptions = {
  /** Delay before a receipt. Default 200 ms. */
  dlrDelayMs?: number;
  /** Delay before the receipt to a 1111 number. Default 3000 ms. */
  lateDlrMs?: number;
  signatureMethod?: VonageSignatureMethod;
};

export type VonageSmsConfig = {
  /** A Vonage route's baseUrl: the API is `${baseUrl}/sms/json`. */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  signatureSecret: string;
  signatureMethod: VonageSignatureMethod;
  /** Where receipts go when a request names no callback. */
  callback: string | null;
};

export type VonageSmsStats = SendStats & {
  dlrsSent: number;
  dlrAttempts: number;
  dlrsFailed: number;
};

type Part = { messageId: string; price: string };
type Accepted = { to: string; from: string; clientRef: string | null; parts: Part[]; callback: string | null };

const emptyStats = (): VonageSmsStats => ({
  requests: 0,
  accepted: 0,
  refused: 0,
  unavailable: 0,
  hung: 0,
  dropped: 0,
  dlrsSent: 0,
  dlrAttempts: 0,
  dlrsFailed: 0,
});

export class VonageSmsService {
  readonly #store: ReceivedStore;
  readonly #dlrDelayMs: number;
  readonly #lateDlrMs: number;
  readonly #apiKey = randomBytes(4).toString("hex");
  readonly #apiSecret = randomBytes(8).toString("hex");
  readonly #signatureSecret = randomBytes(24).toString("base64url");
  readonly #signatureMethod: VonageSignatureMethod;
  readonly #throttledOnce = new CappedSet<string>();
  readonly #numbers = new Map<string, { status: number; errorText: string }>();
  readonly #hanging = new Hanging();
  readonly #abort = new AbortController();
  readonly #behaviour = new BehaviourSlot<VonageBehaviour>("ok");
  #origin = "";
  #callback: string | null = null;
  #balance = 10;
  #stats = emptyStats();

  constructor(store: ReceivedStore, opts: VonageSmsOptions = {}) {
    this.#store = store;
    this.#dlrDelayMs = opts.dlrDelayMs ?? 200;
    this.#lateDlrMs = opts.lateDlrMs ?? 3_000;
    this.#signatureMethod = opts.signatureMethod ?? "md5hash";
    store.onClear((channel) => {
      if (channel === undefined || channel === "sms") {
        this.#throttledOnce.clear();
        this.#stats = emptyStats();
      }
    });
  }

  /** The control server's origin, once it listens: the base URL names it. */
  setOrigin(origin: string): void {
    this.#origin = origin;
  }

  config(): VonageSmsConfig {
    return {
      baseUrl: `${this.#origin}/vonage`,
      apiKey: this.#apiKey,
      apiSecret: this.#apiSecret,
      signatureSecret: this.#signatureSecret,
      signatureMethod: this.#signatureMethod,
      callback: this.#callback,
    };
  }

  /** The account's default receipt URL (Vonage's dashboard setting); null removes it. */
  setCallback(url: string | null): void {
    if (url !== null && !isHttpUrl(url)) throw new Error("callback must be an http(s) URL");
    this.#callback = url;
  }

  /** The status the API answers for `number` (digits, with or without +); 0 clears it. */
  setNumber(number: string, status: number, errorText?: string): { number: string; status: number; errorText: string | null } {
    const key = number.replace(/^\+/, "");
    if (status === 0) {
      this.#numbers.delete(key);
      return { number: key, status, errorText: null };
    }
    const text = errorText ?? VONAGE_ERRORS[status];
    if (text === undefined) throw new Error(`status ${status} is not a documented code; give errorText`);
    this.#numbers.set(key, { status, errorText: text });
    return { number: key, status, errorText: text };
  }

  setBehaviour(mode: VonageBehaviour, times?: number): { mode: VonageBehaviour; remaining: number | null } {
    this.#behaviour.set(mode, times);
    return this.behaviour();
  }

  behaviour(): { mode: VonageBehaviour; remaining: number | null } {
    return this.#behaviour.current();
  }

  stats(): VonageSmsStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#abort.abort();
    this.#hanging.destroyAll();
    return Promise.resolve();
  }

  /** POST /vonage/sms/json */
  async send(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#stats.requests += 1;
    const mode = this.#behaviour.take();
    if (mode === "503") {
      this.#stats.unavailable += 1;
      const text = "<html><body><h1>503 Service Unavailable</h1></body></html>";
      res.writeHead(503, { "content-type": "text/html", "content-length": Buffer.byteLength(text), connection: "close" });
      res.end(text);
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (mode === "hang") {
      this.#stats.hung += 1;
      return this.#hanging.hold(res);
    }
    if (mode === "drop") {
      this.#stats.dropped += 1;
      return drop(req);
    }
    const params = body.oversized ? null : paramsOf(req.headers["content-type"] ?? "", body.bytes.toString("utf8"));
    if (params === null) return this.#refuse(res, 3, "Invalid Parameters", "");
    const answer = this.#check(params);
    if (answer !== null) return this.#refuse(res, answer.status, answer.errorText, params.to ?? "");

    const to = params.to!;
    const text = params.text!;
    const parts = Array.from({ length: countSegments(text) }, () => ({
      messageId: randomBytes(8).toString("hex").toUpperCase(),
      price: PART_PRICE.toFixed(8),
    }));
    this.#balance -= PART_PRICE * parts.length;
    const accepted: Accepted = {
      to,
      from: params.from!,
      clientRef: params["client-ref"] ?? null,
      parts,
      callback: params.callback ?? this.#callback,
    };
    this.#stats.accepted += 1;
    this.#store.record<"sms">({
      channel: "sms",
      to: `+${to}`,
      status: 200,
      outcome: outcomeOf(to),
      headers: { callback: accepted.callback, clientRef: accepted.clientRef },
      payload: {
        text,
        encoding: params.type === "unicode" ? "ucs2" : "gsm7",
        segments: parts.length,
        route: "vonage",
        from: accepted.from,
        messageIds: parts.map((p) => p.messageId),
        ...(accepted.clientRef === null ? {} : { clientRef: accepted.clientRef }),
      },
      provider: "vonage",
      providerMessageId: parts[0]!.messageId,
    });
    sendJson(res, 200, {
      "message-count": String(parts.length),
      messages: parts.map((p) => ({
        to,
        "message-id": p.messageId,
        status: "0",
        "remaining-balance": this.#balance.toFixed(8),
        "message-price": p.price,
        network: NETWORK,
        ...(accepted.clientRef === null ? {} : { "client-ref": accepted.clientRef }),
      })),
    });
    if (accepted.callback !== null && params["status-report-req"] !== "0") this.#background(() => this.#receipts(accepted));
  }

  /** Authentication first, as Vonage answers it, then the message's own parameters; null when it goes. */
  #check(params: Record<string, string>): { status: number; errorText: string } | null {
    const refuse = (status: number, errorText: string) => ({ status, errorText });
    if (!params.api_key) return refuse(2, "Missing api_key");
    if (params.api_key !== this.#apiKey) return refuse(4, "Bad Credentials");
    if (params.sig !== undefined && params.api_secret !== undefined) return refuse(32, VONAGE_ERRORS[32]!);
    if (params.sig !== undefined) {
      const timestamp = Number(params.timestamp);
      const fresh = /^\d{1,12}$/.test(params.timestamp ?? "") && Math.abs(Date.now() / 1000 - timestamp) <= TIMESTAMP_TOLERANCE_S;
      const expected = vonageSignature(params, this.#signatureSecret, this.#signatureMethod);
      if (!fresh || params.sig.toLowerCase() !== expected) return refuse(14, VONAGE_ERRORS[14]!);
    } else if (params.api_secret === undefined) {
      return refuse(2, "Missing api_secret");
    } else if (params.api_secret !== this.#apiSecret) {
      return refuse(4, "Bad Credentials");
    }
    for (const name of ["from", "to", "text"]) if (!params[name]) return refuse(2, `Missing ${name} param`);
    const to = params.to!;
    if (!/^\d{7,15}$/.test(to)) return refuse(3, "Invalid to address");
    if (!/^(\d{1,15}|[A-Za-z0-9 ]{1,11})$/.test(params.from!)) return refuse(15, VONAGE_ERRORS[15]!);
    if (params.type !== undefined && params.type !== "text" && params.type !== "unicode") return refuse(3, "Invalid message type");
    if ((params["client-ref"]?.length ?? 0) > 100) return refuse(3, "Invalid client-ref param");
    if (params.callback !== undefined && !isHttpUrl(params.callback)) return refuse(23, VONAGE_ERRORS[23]!);
    if (params.text!.length > MAX_TEXT_CHARS) return refuse(12, VONAGE_ERRORS[12]!);
    const configured = this.#numbers.get(to);
    if (configured !== undefined) return configured;
    if (outcomeOf(to) === "throttled" && !this.#throttledOnce.has(to)) {
      this.#throttledOnce.add(to);
      return refuse(1, VONAGE_ERRORS[1]!);
    }
    return null;
  }

  #refuse(res: ServerResponse, status: number, errorText: string, to: string): void {
    this.#stats.refused += 1;
    sendJson(res, 200, { "message-count": "1", messages: [{ ...(to ? { to } : {}), status: String(status), "error-text": errorText }] });
  }

  /** One receipt per part, after the delay the number asks for. */
  async #receipts(message: Accepted): Promise<void> {
    const outcome = outcomeOf(message.to);
    await sleep(outcome === "soft" ? this.#lateDlrMs : this.#dlrDelayMs, undefined, { signal: this.#abort.signal });
    for (const part of message.parts) {
      const at = new Date();
      const params: Record<string, string> = {
        msisdn: message.to,
        to: message.from,
        "network-code": NETWORK,
        messageId: part.messageId,
        price: part.price,
        status: outcome === "bounce" ? "failed" : "delivered",
        scts: at.toISOString().replace(/[-T:]/g, "").slice(2, 12),
        "err-code": outcome === "bounce" ? "3" : "0",
        "api-key": this.#apiKey,
        "message-timestamp": at.toISOString().slice(0, 19).replace("T", " "),
        ...(message.clientRef === null ? {} : { "client-ref": message.clientRef }),
        timestamp: String(Math.floor(at.getTime() / 1000)),
        nonce: randomUUID(),
      };
      params.sig = vonageSignature(params, this.#signatureSecret, this.#signatureMethod);
      const ok = await this.#post(message.callback!, params);
      if (ok) this.#stats.dlrsSent += 1;
      else this.#stats.dlrsFailed += 1;
    }
  }

  #post(url: string, params: Record<string, string>): Promise<boolean> {
    return postWithRetries(
      url,
      { headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params).toString() },
      {
        ...DLR_RETRIES,
        signal: this.#abort.signal,
        onAttempt: () => {
          this.#stats.dlrAttempts += 1;
        },
      },
    );
  }

  #background(run: () => Promise<void>): void {
    // Aborted sleeps and fetches end the chain quietly when the sandbox closes.
    run().catch(() => {});
  }
}

/** The request's parameters, form-encoded or JSON (values as strings); null when unreadable. */
function paramsOf(contentType: string, raw: string): Record<string, string> | null {
  if (/^application\/json/i.test(contentType)) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
      const out: Record<string, string> = {};
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = String(value);
      }
      return out;
    } catch {
      return null;
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
