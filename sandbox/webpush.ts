// A browser push service (RFC 8030) on loopback: it holds simulated subscriptions, checks each
// push the way production services do (VAPID, TTL, Urgency, Topic, aes128gcm, size), decrypts
// it as the user agent would and records what arrived.
//
// Subscription names steer the outcome so senders can exercise their error paths:
//   contains "bounce" -> 410 Gone on every push (unsubscribed / expired)
//   contains "slow"   -> 429 with Retry-After on the first push, 201 afterwards
import { createECDH, randomBytes, type ECDH } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { decryptPushMessage } from "./aes128gcm.ts";
import { close, listen, readBody, sendEmpty, sendJson, urlHost } from "./http.ts";
import type { ReceivedStore } from "./store.ts";
import { verifyVapid } from "./vapid.ts";

export type PushSubscriptionJson = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
};

type Subscription = {
  id: string;
  endpoint: string;
  receiver: ECDH;
  authSecret: Buffer;
  throttled: boolean;
  /** The VAPID public key the page subscribed with; pushes signed with another are refused. */
  applicationServerKey?: string;
};

// RFC 8030 §7.2 / RFC 8291 §4: push services must accept bodies of at least 4096 bytes;
// the common services refuse anything larger with 413.
const MAX_BODY_BYTES = 4096;
// FCM caps message retention at four weeks; the granted TTL is echoed back (RFC 8030 §5.2).
const MAX_TTL_SECONDS = 28 * 24 * 3600;
const URGENCIES = new Set(["very-low", "low", "normal", "high"]);
// RFC 8030 §5.4: at most 32 characters from the URL- and filename-safe base64 alphabet.
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;
const PUSH_PATH = /^\/webpush\/([A-Za-z0-9_-]+)$/;

// Error bodies follow Mozilla autopush ({code, errno, error, message}); errno values are
// autopush's where it has one (102 unknown, 103 gone, 104 too large, 109 auth, 110 crypto,
// 111 missing TTL).
const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
};

export class WebPushService {
  readonly #store: ReceivedStore;
  readonly #server: Server;
  readonly #subscriptions = new Map<string, Subscription>();
  #origin: string | null = null;

  constructor(store: ReceivedStore, tls: { cert: string; key: string }) {
    this.#store = store;
    this.#server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    // Bounded: a stalled client cannot hold a request open for long.
    this.#server.requestTimeout = 30_000;
  }

  /** Starts listening and returns the push service origin, e.g. "https://127.0.0.1:8793". */
  async listen(host: string, port: number): Promise<string> {
    const actualPort = await listen(this.#server, host, port);
    this.#origin = `https://${urlHost(host)}:${actualPort}`;
    return this.#origin;
  }

  get origin(): string {
    if (this.#origin === null) throw new Error("web push service is not listening");
    return this.#origin;
  }

  /** What PushManager.subscribe() would hand the page: endpoint plus p256dh and auth keys. */
  createSubscription(name?: string, applicationServerKey?: string): PushSubscriptionJson {
    const prefix = name === undefined ? "" : sanitizeName(name);
    const id = `${prefix ? `${prefix}-` : ""}${randomBytes(8).toString("hex")}`;
    const receiver = createECDH("prime256v1");
    receiver.generateKeys();
    const subscription: Subscription = {
      id,
      endpoint: `${this.origin}/webpush/${id}`,
      receiver,
      authSecret: randomBytes(16),
      throttled: false,
      ...(applicationServerKey !== undefined ? { applicationServerKey } : {}),
    };
    this.#subscriptions.set(id, subscription);
    return {
      endpoint: subscription.endpoint,
      keys: {
        p256dh: receiver.getPublicKey().toString("base64url"),
        auth: subscription.authSecret.toString("base64url"),
      },
    };
  }

  close(): Promise<void> {
    return close(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_BODY_BYTES);
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const id = PUSH_PATH.exec(path)?.[1];
    if (id === undefined) return fail(res, 404, 102, `No push resource at ${path}`);
    if (req.method !== "POST") return fail(res, 405, null, "Push messages are sent with POST", { allow: "POST" });

    const subscription = this.#subscriptions.get(id);
    if (subscription === undefined) return fail(res, 404, 102, "Unknown subscription");

    const vapid = verifyVapid(req.headers.authorization, this.origin);
    if (!vapid.ok) return fail(res, vapid.status, 109, vapid.message);
    // A subscription made with an applicationServerKey takes pushes signed with that key only
    // (Push API: "the push service will reject any push message unless the corresponding private key is used").
    if (subscription.applicationServerKey !== undefined && vapid.publicKey !== subscription.applicationServerKey) {
      return fail(res, 403, 109, "VAPID public key does not match the subscription's applicationServerKey");
    }

    // Past authentication, every request is recorded, whatever its fate.
    const headers = {
      ttl: header(req, "ttl"),
      urgency: header(req, "urgency"),
      topic: header(req, "topic"),
      "content-encoding": header(req, "content-encoding"),
    };
    const record = (status: number, outcome: string, payload: string | null = null) =>
      this.#store.record({ channel: "webpush", to: subscription.endpoint, status, outcome, headers, payload });

    if (body.oversized) {
      record(413, "too-large");
      return fail(res, 413, 104, `Push message body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    if (headers.ttl === null || !/^\d+$/.test(headers.ttl)) {
      record(400, "bad-request");
      return fail(res, 400, headers.ttl === null ? 111 : 110, "TTL header must be a non-negative integer (RFC 8030 §5.2)");
    }
    if (headers.urgency !== null && !URGENCIES.has(headers.urgency)) {
      record(400, "bad-request");
      return fail(res, 400, null, "Urgency must be very-low, low, normal or high (RFC 8030 §5.3)");
    }
    if (headers.topic !== null && !TOPIC.test(headers.topic)) {
      record(400, "bad-request");
      return fail(res, 400, null, "Topic must be at most 32 base64url characters (RFC 8030 §5.4)");
    }

    // A push without a body is legal (RFC 8030 §5) and needs no Content-Encoding.
    let payload: string | null = null;
    if (body.bytes.length > 0) {
      // 415 rather than autopush's 400/110: RFC 9110 §15.5.16 names an unsupported
      // Content-Encoding as a cause of 415, and it keeps "wrong coding" apart from "undecryptable".
      // The legacy draft "aesgcm" coding is refused too: senders must use RFC 8291.
      if (headers["content-encoding"]?.toLowerCase() !== "aes128gcm") {
        record(415, "unsupported-encoding");
        return fail(res, 415, 110, "Content-Encoding must be aes128gcm (RFC 8291)");
      }
      try {
        // Lossy decoding, as PushMessageData.text() does in the browser.
        payload = decryptPushMessage(body.bytes, subscription.receiver, subscription.authSecret).toString("utf8");
      } catch (error) {
        record(400, "undecryptable");
        return fail(res, 400, 110, error instanceof Error ? error.message : String(error));
      }
    }

    if (id.includes("bounce")) {
      record(410, "gone", payload);
      return fail(res, 410, 103, "Subscription has expired or been unsubscribed");
    }
    if (id.includes("slow") && !subscription.throttled) {
      subscription.throttled = true;
      record(429, "throttled", payload);
      return fail(res, 429, null, "Too many messages for this subscription; retry later", { "retry-after": "1" });
    }

    record(201, "accepted", payload);
    const ttl = Math.min(Number(headers.ttl), MAX_TTL_SECONDS);
    sendEmpty(res, 201, { location: `${this.origin}/m/${randomBytes(16).toString("hex")}`, ttl: String(ttl) });
  }
}

function fail(res: ServerResponse, status: number, errno: number | null, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code: status, errno, error: REASONS[status] ?? "Error", message }, headers);
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === "string" ? value : null;
}

/** Names become part of the endpoint path, so keep them URL-safe and short. */
function sanitizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
}
