/**
 * Signing as each provider does, inside workerd (WebCrypto, and the `standardwebhooks`
 * package for Svix/Standard Webhooks). The verifiers are proven against the providers' own
 * libraries in test/core; here the route's wiring is what is under test.
 */
import { env } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { stringToSign, type SnsMessage } from "../../src/webhooks/ses.ts";
import { signature as vonageSignature } from "../../src/webhooks/vonage.ts";
import { BASE } from "./helpers.ts";

const enc = new TextEncoder();
const b64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** r||s (64 bytes) as the DER SEQUENCE SendGrid sends. */
function der(raw: Uint8Array): Uint8Array {
  const int = (part: Uint8Array) => {
    let i = 0;
    while (i < part.length - 1 && part[i] === 0) i++;
    const trimmed = part.subarray(i);
    const body = trimmed[0]! & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
    return Uint8Array.of(0x02, body.length, ...body);
  };
  const r = int(raw.subarray(0, 32));
  const s = int(raw.subarray(32));
  return Uint8Array.of(0x30, r.length + s.length, ...r, ...s);
}

export async function sendgridSigner() {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = b64((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  return {
    publicKey,
    async headers(body: string, timestamp = Math.floor(Date.now() / 1000)) {
      const raw = new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, enc.encode(`${timestamp}${body}`)),
      );
      return {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": b64(der(raw)),
        "x-twilio-email-event-webhook-timestamp": String(timestamp),
      };
    },
  };
}

export async function mailgunSignature(
  key: string,
  timestamp = Math.floor(Date.now() / 1000),
  token = crypto.randomUUID().replace(/-/g, ""),
) {
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return { timestamp: String(timestamp), token, signature: hex(await crypto.subtle.sign("HMAC", k, enc.encode(`${timestamp}${token}`))) };
}

export function svixHeaders(secret: string, body: string, id = `msg_${crypto.randomUUID()}`) {
  const now = new Date();
  const signature = new Webhook(secret).sign(id, now, body);
  return {
    "content-type": "application/json",
    "svix-id": id,
    "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
    "svix-signature": signature,
  };
}

export function standardHeaders(secret: string, body: string, id = `msg_${crypto.randomUUID()}`) {
  const now = new Date();
  const signature = new Webhook(secret).sign(id, now, body);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signature,
  };
}

export const whsec = () => `whsec_${b64(crypto.getRandomValues(new Uint8Array(32)))}`;

export async function vonageParams(secret: string, params: Record<string, string>, method: "md5hash" | "sha256" = "md5hash") {
  const signed = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
  return { ...signed, sig: await vonageSignature(signed, secret, method) };
}

/** SNS's key and certificate (made by vitest.config.ts with openssl), served where the test says. */
const testEnv = env as unknown as { TEST_SNS_CERT: string; TEST_SNS_KEY: string };
export const SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-lasthoptest.pem";

type Unsigned<T> = T extends unknown ? Omit<T, "Signature" | "SignatureVersion" | "SigningCertURL"> : never;

export async function snsSign(message: Unsigned<SnsMessage>, certUrl = SNS_CERT_URL) {
  const pem = testEnv.TEST_SNS_KEY.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(pem), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  const full = { ...message, SignatureVersion: "2", SigningCertURL: certUrl, Signature: "" } as SnsMessage;
  full.Signature = b64(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, enc.encode(stringToSign(full))));
  return full;
}

/**
 * Plays SNS's certificate host (and the subscription confirmation) for the Worker's fetches;
 * everything else passes through. Counts every request by host, so a test can prove a
 * disallowed host was never asked.
 */
export function installSns() {
  const previous = globalThis.fetch;
  const requests: string[] = [];
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.origin === BASE) return previous(input as RequestInfo, init);
    requests.push(request.url);
    if (url.hostname.startsWith("sns.") && url.pathname.endsWith(".pem")) return new Response(testEnv.TEST_SNS_CERT);
    if (url.hostname.startsWith("sns.") && url.searchParams.get("Action") === "ConfirmSubscription") {
      return new Response("<ConfirmSubscriptionResponse/>", { headers: { "content-type": "text/xml" } });
    }
    return previous(input as RequestInfo, init);
  }) as typeof fetch;
  return {
    requests,
    restore() {
      globalThis.fetch = previous;
    },
  };
}
