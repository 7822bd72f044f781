/**
 * DKIM signing (RFC 6376, RFC 8463 for Ed25519) with mailauth's own canonicalization and
 * signature format: relaxed/relaxed, the item's algorithm, d= and s= from the item's key. The
 * signature covers the headers below that the message actually has (as mailauth signs only the
 * present ones), and the DKIM-Signature headers are prepended; the message itself is not changed.
 *
 * Not mailauth's `dkimSign` itself, for speed: it imports the PEM key again for every message
 * (a fresh RSA key object signs about 3× slower than a reused one) and feeds the message through
 * a byte-by-byte stream. Here the header section is parsed once, the relaxed body hash is
 * computed once for all of a message's signatures (it does not depend on the headers), and key
 * objects are kept per PEM. The pieces that decide the bytes signed and sent are mailauth's.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import body from "mailauth/lib/dkim/body/index.js";
import header from "mailauth/lib/dkim/header/index.js";
import tools from "mailauth/lib/tools.js";
import type { DkimKey } from "../../../src/core/bridge.ts";

/** Header fields signed when present, in this order (RFC 6376 §5.4.1: From is required). */
export const SIGNED_HEADERS = [
  "From",
  "To",
  "Subject",
  "Date",
  "Message-ID",
  "MIME-Version",
  "Content-Type",
  "Content-Transfer-Encoding",
  "List-Unsubscribe",
  "List-Unsubscribe-Post",
  "Reply-To",
  "Feedback-ID",
  // RFC 8460 §5.3: a TLS report's own header fields SHOULD be in its DKIM signature.
  "TLS-Report-Domain",
  "TLS-Report-Submitter",
] as const;
const FIELD_NAMES = SIGNED_HEADERS.join(":");

/** RFC 8301 §3.2: verifiers must not accept RSA keys below 1024 bits. */
const MIN_RSA_BITS = 1024;
/** Key objects kept (one per sending domain and algorithm in use). */
const KEY_CACHE_SIZE = 1_000;
/** What may never be in a d= or s= value: it would end the tag or the header (RFC 6376 §3.2). */
const UNSAFE_TAG_VALUE = /[^\x21-\x3a\x3c-\x7e]/;

export class DkimError extends Error {
  override name = "DkimError";
}

const keys = new Map<string, KeyObject>();

function keyObject(pem: string): KeyObject {
  let key = keys.get(pem);
  if (key) return key;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (error) {
    throw new DkimError(`DKIM signing failed: ${(error as Error).message}`);
  }
  if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value!);
  keys.set(pem, key);
  return key;
}

/** Index where the body starts: after the first empty line (CRLF or bare LF), else the end (as mailauth's parser). */
function bodyStart(message: Buffer): number {
  if (message[0] === 0x0a) return 1;
  if (message[0] === 0x0d && message[1] === 0x0a) return 2;
  const crlf = message.indexOf("\n\r\n");
  const lf = message.indexOf("\n\n");
  if (crlf < 0 && lf < 0) return message.length;
  if (lf < 0 || (crlf >= 0 && crlf < lf)) return crlf + 3;
  return lf + 2;
}

function asList(dkim: DkimKey | DkimKey[] | undefined): DkimKey[] {
  return Array.isArray(dkim) ? dkim : dkim ? [dkim] : [];
}

/**
 * The DKIM-Signature header lines (each ending in CRLF) to put in front of `message`, one per
 * key (a verified domain gives two, RSA and Ed25519: RFC 8463 §1). Synchronous and CPU-bound:
 * the bridge runs it on its signing threads (sign-pool.ts).
 */
export function dkimSignatureHeaders(message: Buffer, dkim: DkimKey | DkimKey[] | undefined, now = Date.now()): string {
  const list = asList(dkim);
  if (list.length === 0) return "";
  const start = bodyStart(message);
  const headers = tools.parseHeaders(message.subarray(0, start));
  const lines = tools.getSigningHeaderLines(headers.parsed, FIELD_NAMES);
  if (!lines.headers.some((h) => h.key === "from")) throw new DkimError("DKIM signing failed: the message has no From header");
  // Relaxed body canonicalization does not depend on the headers: one hash for every signature.
  const hasher = body.dkimBody("relaxed", "sha256", false);
  hasher.update(message.subarray(start));
  const bodyHash = hasher.digest("base64");
  const timestamp = Math.floor(now / 1000);
  let out = "";
  for (const k of list) {
    for (const [tag, value] of [
      ["d=", k.domain],
      ["s=", k.selector],
    ] as const) {
      if (UNSAFE_TAG_VALUE.test(tools.toALabel(value.trim()))) throw new DkimError(`DKIM signing failed: invalid ${tag} value`);
    }
    const key = keyObject(k.privateKey);
    const rsa = k.algorithm === "rsa-sha256";
    if (key.asymmetricKeyType !== (rsa ? "rsa" : "ed25519"))
      throw new DkimError(`DKIM signing failed: Invalid key type: "${key.asymmetricKeyType}" (expecting "${rsa ? "rsa" : "ed25519"}")`);
    if (rsa && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)
      throw new DkimError(`DKIM signing failed: RSA key too short (at least ${MIN_RSA_BITS} bits required)`);
    const { canonicalizedHeader, dkimHeaderOpts } = header.generateCanonicalizedHeader("DKIM", lines, {
      signingDomain: k.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      canonicalization: "relaxed/relaxed",
      bodyHash,
      timestamp,
      expiration: false,
    });
    // RFC 8463 §3: Ed25519 signs the SHA-256 of the canonicalized headers (PureEdDSA over the hash).
    dkimHeaderOpts.b = (
      rsa ? sign("sha256", canonicalizedHeader, key) : sign(null, createHash("sha256").update(canonicalizedHeader).digest(), key)
    ).toString("base64");
    out += `${tools.formatSignatureHeaderLine("DKIM", dkimHeaderOpts, true)}\r\n`;
  }
  return out;
}

/**
 * Returns the message to send: `raw` with a DKIM-Signature header in front for each key given,
 * signed on the calling thread (the bridge's relay signs on its pool: sign-pool.ts).
 */
export async function signMessage(raw: string, dkim: DkimKey | DkimKey[] | undefined): Promise<Buffer> {
  const message = Buffer.from(raw, "utf8");
  if (asList(dkim).length === 0) return message;
  let headers: string;
  try {
    headers = dkimSignatureHeaders(message, dkim);
  } catch (error) {
    if (error instanceof DkimError) throw error;
    throw new DkimError(`DKIM signing failed: ${(error as Error).message}`);
  }
  return Buffer.concat([Buffer.from(headers, "utf8"), message]);
}
