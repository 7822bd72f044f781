// The sandbox REST SMS aggregator: Twilio's Messages API on the control server under /sms/
// (so a Twilio client's base URL is `${httpUrl}/sms`):
//   POST /sms/2010-04-01/Accounts/{AccountSid}/Messages.json         form: To, From | MessagingServiceSid, Body, StatusCallback?
//   GET  /sms/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
// HTTP Basic auth AccountSid:AuthToken; dev account AC00000000000000000000000000000001 with
// auth token devtwilioauthtoken00000000000000 (sandbox option smsRestAccounts replaces it).
// Answers as Twilio does: 201 with the message resource (status "queued", or "accepted" when
// only a MessagingServiceSid names the sender; num_segments counted with the GSM-7 160/153 and
// UCS-2 70/67 rules, the charset check being the smpp package's), errors as
// {code, message, more_info, status}: 401/20003 bad credentials, 400/21604 no To, 400/21602 no
// Body, 400/21211 To not E.164, 400/21603 no sender, 429/20429 (Retry-After: 1) the first time a
// number ending in 2222 is sent to (since start or DELETE /_sandbox/received). The fault
// restFail {status: 500|502|503, count?} answers that status instead, for the next `count`
// requests or until cleared. The fault restDropCallbacks: true sends no status callback at all
// (counted as callbacksDropped) while the message still moves on, so only a status GET
// (lasthop's status poll) can learn how it ended.
//
// Then, as Twilio does, status callbacks to StatusCallback, form-encoded (MessageSid, SmsSid,
// AccountSid, From, To, MessageStatus, SmsStatus, ApiVersion, ErrorCode on failure), signed
// with X-Twilio-Signature (computed by the twilio package) and carrying an
// I-Twilio-Idempotency-Token that stays the same on retries: "sent" after ~50 ms, then
// "delivered" (after smscDlrDelayMs), "undelivered" with ErrorCode 30005 for a number ending in
// 0000, "delivered" late (smscLateDlrMs) for 1111. A callback answered with a non-2xx, or not
// answered, is tried up to 5 times with backoff.
//
// Inbound (MO): POST /_sandbox/sms/mo {route: "rest"} posts Twilio's "a message comes in"
// webhook (MessageSid, SmsSid, SmsMessageSid, AccountSid, From, To, Body, NumMedia, NumSegments,
// ApiVersion; signed the same way) to the number's SMS URL (PUT /_sandbox/sms/rest/numbers/{number},
// or the sandbox option smsRestInboundUrl for every number).
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import twilio from "twilio";
import { CappedMap, CappedSet } from "./capped.ts";
import { postWithRetries, type RetryPolicy, readBody, sendJson } from "./http.ts";
import { loadSmpp } from "./smpp-types.ts";
import { outcomeOf } from "./smsc.ts";
import type { ReceivedStore } from "./store.ts";

const smpp = loadSmpp();

export const DEFAULT_SMS_REST_ACCOUNTS: readonly SmsRestAccount[] = [
  { sid: "AC00000000000000000000000000000001", authToken: "devtwilioauthtoken00000000000000" },
];
export const API_VERSION = "2010-04-01";

const MAX_FORM_BYTES = 64 * 1024;
const SENT_DELAY_MS = 50;
const CALLBACK_RETRIES: RetryPolicy = { tries: 5, firstBackoffMs: 200, timeoutMs: 5_000 };
const E164 = /^\+[1-9]\d{6,14}$/;

export type SmsRestAccount = { sid: string; authToken: string };

export type SmsRestOptions = {
  accounts?: readonly SmsRestAccount[];
  /** SMS URL for inbound messages to any number without its own. */
  inboundUrl?: string;
  /** Delay before the final "delivered"/"undelivered". Default 200 ms. */
  dlrDelayMs?: number;
  /** Delay before the final "delivered" to a 1111 number. Default 3000 ms. */
  lateDlrMs?: number;
};

export type RestFail = { status: 500 | 502 | 503; count?: number };

export type SmsRestStats = {
  messages: number;
  callbacksSent: number;
  callbackAttempts: number;
  callbacksFailed: number;
  callbacksDropped: number;
  inboundSent: number;
  inboundFailed: number;
  restFail: { status: number; remaining: number | null } | null;
};

type MessageResource = {
  account_sid: string;
  api_version: string;
  body: string;
  date_created: string;
  date_sent: string | null;
  date_updated: string;
  direction: "outbound-api";
  error_code: number | null;
  error_message: string | null;
  from: string | null;
  messaging_service_sid: string | null;
  num_media: string;
  num_segments: string;
  price: string | null;
  price_unit: string;
  sid: string;
  status: string;
  subresource_uris: { media: string };
  to: string;
  uri: string;
};

export class SmsRestService {
  readonly #store: ReceivedStore;
  readonly #accounts: readonly SmsRestAccount[];
  readonly #inboundUrl: string | undefined;
  readonly #dlrDelayMs: number;
  readonly #lateDlrMs: number;
  readonly #messages = new CappedMap<string, MessageResource>();
  readonly #throttledOnce = new CappedSet<string>();
  readonly #numbers = new Map<string, { smsUrl: string; accountSid: string }>();
  readonly #abort = new AbortController();
  #restFail: { status: 500 | 502 | 503; remaining: number | null } | null = null;
  #dropCallbacks = false;
  #stats = {
    messages: 0,
    callbacksSent: 0,
    callbackAttempts: 0,
    callbacksFailed: 0,
    callbacksDropped: 0,
    inboundSent: 0,
    inboundFailed: 0,
  };

  constructor(store: ReceivedStore, opts: SmsRestOptions = {}) {
    this.#store = store;
    this.#accounts = opts.accounts ?? DEFAULT_SMS_REST_ACCOUNTS;
    if (this.#accounts.length === 0) throw new Error("smsRestAccounts must hold at least one {sid, authToken}");
    for (const account of this.#accounts) {
      if (
        typeof account.sid !== "string" ||
        !/^AC[0-9a-f]{32}$/i.test(account.sid) ||
        typeof account.authToken !== "string" ||
        account.authToken === ""
      ) {
        throw new Error("smsRestAccounts entries must be {sid: AC + 32 hex digits, authToken: non-empty string}");
      }
    }
    if (opts.inboundUrl !== undefined && !isHttpUrl(opts.inboundUrl)) throw new Error("smsRestInboundUrl must be an http(s) URL");
    this.#inboundUrl = opts.inboundUrl;
    this.#dlrDelayMs = opts.dlrDelayMs ?? 200;
    this.#lateDlrMs = opts.lateDlrMs ?? 3_000;
    store.onClear((channel) => {
      if (channel === undefined || channel === "sms") this.resetMemory();
    });
  }

  get defaultAccount(): SmsRestAccount {
    return this.#accounts[0]!;
  }

  setRestFail(fail: RestFail | null): void {
    this.#restFail = fail === null ? null : { status: fail.status, remaining: fail.count ?? null };
  }

  /** No status callbacks while set: the messages still progress, their resources say how they ended. */
  setDropCallbacks(drop: boolean): void {
    this.#dropCallbacks = drop;
  }

  get dropCallbacks(): boolean {
    return this.#dropCallbacks;
  }

  resetMemory(): void {
    this.#throttledOnce.clear();
    this.#stats = {
      messages: 0,
      callbacksSent: 0,
      callbackAttempts: 0,
      callbacksFailed: 0,
      callbacksDropped: 0,
      inboundSent: 0,
      inboundFailed: 0,
    };
  }

  stats(): SmsRestStats {
    return { ...this.#stats, restFail: this.#restFail === null ? null : { ...this.#restFail } };
  }

  /** The SMS URL for inbound messages to `number` (E.164). */
  setNumber(number: string, smsUrl: string, accountSid?: string): { number: string; smsUrl: string; accountSid: string } {
    if (!isHttpUrl(smsUrl)) throw new Error("smsUrl must be an http(s) URL");
    const account = accountSid === undefined ? this.defaultAccount : this.#accounts.find((candidate) => candidate.sid === accountSid);
    if (account === undefined) throw new Error(`unknown accountSid ${accountSid}`);
    this.#numbers.set(number, { smsUrl, accountSid: account.sid });
    return { number, smsUrl, accountSid: account.sid };
  }

  /** Posts an inbound message to the number's SMS URL (in the background, retried). */
  sendMo(mo: { from: string; to: string; body: string }): { messageSid: string; url: string } {
    const configured = this.#numbers.get(mo.to);
    const url = configured?.smsUrl ?? this.#inboundUrl;
    if (url === undefined)
      throw new Error(`no SMS URL for ${mo.to}: PUT /_sandbox/sms/rest/numbers/${encodeURIComponent(mo.to)} {"smsUrl"} first`);
    const account = this.#accounts.find((candidate) => candidate.sid === configured?.accountSid) ?? this.defaultAccount;
    const messageSid = sid("SM");
    const params = {
      ToCountry: "US",
      SmsMessageSid: messageSid,
      NumMedia: "0",
      SmsSid: messageSid,
      SmsStatus: "received",
      Body: mo.body,
      To: mo.to,
      NumSegments: String(countSegments(mo.body)),
      MessageSid: messageSid,
      AccountSid: account.sid,
      From: mo.from,
      ApiVersion: API_VERSION,
    };
    this.#background(async () => {
      const ok = await this.#post(url, params, account.authToken);
      if (ok) this.#stats.inboundSent += 1;
      else this.#stats.inboundFailed += 1;
    });
    return { messageSid, url };
  }

  /** POST .../Accounts/{AccountSid}/Messages.json */
  async create(req: IncomingMessage, res: ServerResponse, accountSid: string): Promise<void> {
    const body = await readBody(req, MAX_FORM_BYTES);
    if (this.#restFail !== null) {
      const fail = this.#restFail;
      if (fail.remaining !== null && --fail.remaining <= 0) this.#restFail = null;
      return failure(res, fail.status);
    }
    const account = this.#authenticate(req, accountSid);
    if (account === null) return authFailure(res);
    if (body.oversized) return twilioError(res, 413, 21617, "The concatenated message body exceeds the 1600 character limit.");
    const form = new URLSearchParams(body.bytes.toString("utf8"));
    const to = form.get("To") ?? "";
    const from = form.get("From") ?? "";
    const serviceSid = form.get("MessagingServiceSid") ?? "";
    const text = form.get("Body");
    const statusCallback = form.get("StatusCallback") ?? "";

    if (to === "") return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    if (text === null || text === "") return twilioError(res, 400, 21602, "Message body is required.");
    if (from === "" && serviceSid === "") return twilioError(res, 400, 21603, "A 'From' phone number is required.");
    if (!E164.test(to)) return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (text.length > 1600) return twilioError(res, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (statusCallback !== "" && !isHttpUrl(statusCallback))
      return twilioError(res, 400, 21609, `The StatusCallback URL ${statusCallback} is not a valid URL.`);
    const outcome = outcomeOf(to);
    if (outcome === "throttled" && !this.#throttledOnce.has(to)) {
      this.#throttledOnce.add(to);
      return twilioError(res, 429, 20429, "Too Many Requests", { "retry-after": "1" });
    }

    const messageSid = sid("SM");
    const now = twilioDate(new Date());
    const segments = countSegments(text);
    const resource: MessageResource = {
      account_sid: account.sid,
      api_version: API_VERSION,
      body: text,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from: from === "" ? null : from,
      messaging_service_sid: serviceSid === "" ? null : serviceSid,
      num_media: "0",
      num_segments: String(segments),
      price: null,
      price_unit: "USD",
      sid: messageSid,
      status: from === "" ? "accepted" : "queued",
      subresource_uris: { media: `/${API_VERSION}/Accounts/${account.sid}/Messages/${messageSid}/Media.json` },
      to,
      uri: `/${API_VERSION}/Accounts/${account.sid}/Messages/${messageSid}.json`,
    };
    this.#messages.set(messageSid, resource);
    this.#stats.messages += 1;
    this.#store.record<"sms">({
      channel: "sms",
      to,
      status: 201,
      outcome,
      headers: { statusCallback: statusCallback === "" ? null : statusCallback },
      payload: {
        text,
        encoding: isGsm(text) ? "gsm7" : "ucs2",
        segments,
        route: "rest",
        from: from === "" ? serviceSid : from,
        sid: messageSid,
        ...(serviceSid === "" ? {} : { messagingServiceSid: serviceSid }),
      },
    });
    sendJson(res, 201, resource);
    this.#background(() => this.#progress(resource, account, statusCallback === "" ? null : statusCallback));
  }

  /** GET .../Accounts/{AccountSid}/Messages/{Sid}.json */
  fetch(req: IncomingMessage, res: ServerResponse, accountSid: string, messageSid: string): void {
    const account = this.#authenticate(req, accountSid);
    if (account === null) return authFailure(res);
    const resource = this.#messages.get(messageSid);
    if (resource === undefined || resource.account_sid !== account.sid) {
      return twilioError(
        res,
        404,
        20404,
        `The requested resource /${API_VERSION}/Accounts/${accountSid}/Messages/${messageSid}.json was not found`,
      );
    }
    sendJson(res, 200, resource);
  }

  close(): Promise<void> {
    this.#abort.abort();
    return Promise.resolve();
  }

  #authenticate(req: IncomingMessage, accountSid: string): SmsRestAccount | null {
    const header = req.headers.authorization ?? "";
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (match === null) return null;
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return null;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const account = this.#accounts.find((candidate) => candidate.sid === user);
    if (account === undefined || account.authToken !== password || account.sid !== accountSid) return null;
    return account;
  }

  /** queued -> sent -> delivered | undelivered, with a status callback at each step after queued. */
  async #progress(resource: MessageResource, account: SmsRestAccount, callback: string | null): Promise<void> {
    const signal = this.#abort.signal;
    await sleep(SENT_DELAY_MS, undefined, { signal });
    const sentAt = Date.now();
    resource.status = "sent";
    resource.date_sent = twilioDate(new Date());
    resource.date_updated = resource.date_sent;
    if (callback !== null) await this.#callback(callback, resource, account);

    const outcome = outcomeOf(resource.to);
    const delay = outcome === "soft" ? this.#lateDlrMs : this.#dlrDelayMs;
    await sleep(Math.max(0, delay - (Date.now() - sentAt)), undefined, { signal });
    if (outcome === "bounce") {
      resource.status = "undelivered";
      resource.error_code = 30005;
      resource.error_message = "Unknown destination handset";
    } else {
      resource.status = "delivered";
    }
    resource.date_updated = twilioDate(new Date());
    if (callback !== null) await this.#callback(callback, resource, account);
  }

  async #callback(url: string, resource: MessageResource, account: SmsRestAccount): Promise<void> {
    if (this.#dropCallbacks) {
      this.#stats.callbacksDropped += 1;
      return;
    }
    const params: Record<string, string> = {
      ...(resource.error_code !== null ? { ErrorCode: String(resource.error_code) } : {}),
      SmsSid: resource.sid,
      SmsStatus: resource.status,
      MessageStatus: resource.status,
      To: resource.to,
      ...(resource.messaging_service_sid !== null ? { MessagingServiceSid: resource.messaging_service_sid } : {}),
      MessageSid: resource.sid,
      AccountSid: account.sid,
      From: resource.from ?? "",
      ApiVersion: API_VERSION,
    };
    const ok = await this.#post(url, params, account.authToken);
    if (ok) this.#stats.callbacksSent += 1;
    else this.#stats.callbacksFailed += 1;
  }

  /** One webhook, signed, retried with backoff; true once a 2xx came back. */
  #post(url: string, params: Record<string, string>, authToken: string): Promise<boolean> {
    const signature = twilio.getExpectedTwilioSignature(authToken, url, params);
    const idempotencyToken = `${randomUUID()}`;
    return postWithRetries(
      url,
      {
        headers: {
          "content-type": "application/x-www-form-urlencoded; charset=utf-8",
          "user-agent": "TwilioProxy/1.1",
          "x-twilio-signature": signature,
          "i-twilio-idempotency-token": idempotencyToken,
          accept: "*/*",
        },
        body: new URLSearchParams(params).toString(),
      },
      {
        ...CALLBACK_RETRIES,
        signal: this.#abort.signal,
        onAttempt: () => {
          this.#stats.callbackAttempts += 1;
        },
      },
    );
  }

  #background(run: () => Promise<void>): void {
    // Aborted sleeps and fetches end the chain quietly when the sandbox closes.
    run().catch(() => {});
  }
}

/** SM/MG/AC etc. + 32 lower-case hex digits. */
function sid(prefix: string): string {
  return prefix + randomBytes(16).toString("hex");
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function isGsm(text: string): boolean {
  return smpp.encodings.ASCII.match(text);
}

/** Segments as carriers count them: GSM-7 160 septets (153 per part), else UCS-2 70 units (67 per part). */
export function countSegments(text: string): number {
  if (isGsm(text)) {
    const septets = smpp.gsmCoder.encode(text, 0).length;
    return septets <= 160 ? 1 : Math.ceil(septets / 153);
  }
  return text.length <= 70 ? 1 : Math.ceil(text.length / 67);
}

/** RFC 2822 date as Twilio writes it: "Thu, 30 Jul 2015 20:12:31 +0000". */
function twilioDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

function twilioError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, headers);
}

function authFailure(res: ServerResponse): void {
  res.setHeader("www-authenticate", 'Basic realm="Twilio API"');
  sendJson(res, 401, {
    code: 20003,
    detail: "Your AccountSid or AuthToken was incorrect.",
    message: "Authenticate",
    more_info: "https://www.twilio.com/docs/errors/20003",
    status: 401,
  });
}

function failure(res: ServerResponse, status: 500 | 502 | 503): void {
  if (status === 502) {
    // What a load balancer in front of the API says: not Twilio's JSON.
    const text = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    res.writeHead(502, { "content-type": "text/html", "content-length": Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  if (status === 503) return twilioError(res, 503, 20503, "Service Unavailable", { "retry-after": "1" });
  twilioError(res, 500, 20500, "Internal Server Error");
}
