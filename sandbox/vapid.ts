// VAPID (RFC 8292) verification, written against node:crypto alone so it shares no code with
// the sender under test.
import { createPublicKey, type KeyObject } from "node:crypto";
import { numericDate, parseCompactJws, verifyEs256 } from "./jws.ts";

export type VapidVerdict = { ok: true; publicKey: string; subject: string } | { ok: false; status: 401 | 403; message: string };

// RFC 8292 §2: the push service rejects tokens that expire more than 24 hours ahead.
const MAX_EXP_AHEAD_SECONDS = 24 * 3600;

// The `k` parameter is unpadded base64url (RFC 8292 §3.2); anything else is a sender bug worth surfacing.
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Checks an `Authorization: vapid t=<jwt>, k=<key>` header for a push to a subscription
 * whose push service origin is `audience` (e.g. "https://127.0.0.1:8793").
 */
export function verifyVapid(authorization: string | undefined, audience: string, nowMs: number = Date.now()): VapidVerdict {
  if (authorization === undefined || authorization.trim() === "") {
    return { ok: false, status: 401, message: "Missing Authorization header" };
  }
  const params = parseVapidAuthorization(authorization);
  if (typeof params === "string") return forbidden(params);

  const publicKey = publicKeyFromK(params.k);
  if (typeof publicKey === "string") return forbidden(publicKey);

  const jws = parseCompactJws(params.t);
  if (typeof jws === "string") return forbidden(`VAPID token t: ${jws}`);
  if (jws.header.alg !== "ES256") return forbidden("VAPID token header must be a JSON object with alg ES256");
  if (!verifyEs256(jws, publicKey)) return forbidden("VAPID token signature does not verify against k");

  const { claims } = jws;
  if (claims.aud !== audience) return forbidden(`VAPID aud must be ${audience}, got ${JSON.stringify(claims.aud)}`);

  const nowSeconds = nowMs / 1000;
  const exp = numericDate(claims.exp);
  if (exp === null) return forbidden("VAPID exp must be a NumericDate");
  if (exp <= nowSeconds) return forbidden("VAPID token has expired");
  if (exp > nowSeconds + MAX_EXP_AHEAD_SECONDS) return forbidden("VAPID exp is more than 24 hours in the future");

  if (typeof claims.sub !== "string" || !isContactUri(claims.sub)) {
    return forbidden("VAPID sub must be a mailto: or https: URI");
  }
  return { ok: true, publicKey: params.k, subject: claims.sub };
}

function forbidden(message: string): VapidVerdict {
  return { ok: false, status: 403, message };
}

/** Parses `vapid t=..., k=...` (auth-params may come in any order and be quoted). */
function parseVapidAuthorization(header: string): { t: string; k: string } | string {
  const match = /^\s*vapid\s+(.+)$/i.exec(header);
  if (match === null) return "Authorization scheme must be vapid (RFC 8292)";
  const params = new Map<string, string>();
  for (const item of (match[1] ?? "").split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) return "Malformed vapid auth-param";
    const name = item.slice(0, eq).trim().toLowerCase();
    const value = item
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
    params.set(name, value);
  }
  const t = params.get("t");
  const k = params.get("k");
  if (!t) return "vapid Authorization lacks the t parameter";
  if (!k) return "vapid Authorization lacks the k parameter";
  return { t, k };
}

/** `k` is the application server's P-256 public key as an uncompressed point (RFC 8292 §3.2). */
function publicKeyFromK(k: string): KeyObject | string {
  if (!BASE64URL.test(k)) return "vapid k is not unpadded base64url";
  const point = Buffer.from(k, "base64url");
  if (point.length !== 65 || point[0] !== 0x04) return "vapid k must be an uncompressed P-256 point (65 bytes, 0x04 prefix)";
  try {
    return createPublicKey({
      format: "jwk",
      key: {
        kty: "EC",
        crv: "P-256",
        x: point.subarray(1, 33).toString("base64url"),
        y: point.subarray(33, 65).toString("base64url"),
      },
    });
  } catch {
    return "vapid k is not a point on P-256";
  }
}

function isContactUri(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "mailto:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
