/**
 * DKIM signing (RFC 6376, RFC 8463 for Ed25519) with mailauth's `dkimSign`: relaxed/relaxed
 * canonicalization, the item's algorithm, d= and s= from the item's key. The signature covers
 * the headers below that the message actually has (mailauth signs only the present ones), and
 * the DKIM-Signature header is prepended to the message; the message itself is not changed.
 */
import { dkimSign } from "mailauth";
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
] as const;

export class DkimError extends Error {
  override name = "DkimError";
}

/**
 * Returns the message to send: `raw` with a DKIM-Signature header in front for each key given
 * (a verified domain gives two, RSA and Ed25519: RFC 8463 §1).
 */
export async function signMessage(raw: string, dkim: DkimKey | DkimKey[] | undefined): Promise<Buffer> {
  const message = Buffer.from(raw, "utf8");
  const keys = (Array.isArray(dkim) ? dkim : dkim ? [dkim] : []).map((k) => ({
    signingDomain: k.domain,
    selector: k.selector,
    privateKey: k.privateKey,
    algorithm: k.algorithm,
    canonicalization: "relaxed/relaxed",
  }));
  if (keys.length === 0) return message;
  let result: Awaited<ReturnType<typeof dkimSign>>;
  try {
    result = await dkimSign(message, { ...keys[0]!, headerList: [...SIGNED_HEADERS], signatureData: keys });
  } catch (error) {
    throw new DkimError(`DKIM signing failed: ${(error as Error).message}`);
  }
  if (result.errors.length > 0 || !result.signatures) {
    throw new DkimError(`DKIM signing failed: ${result.errors[0]?.err.message ?? "no signature was produced"}`);
  }
  return Buffer.concat([Buffer.from(result.signatures, "utf8"), message]);
}
