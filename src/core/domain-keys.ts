/**
 * A sending domain's DKIM key pairs, made with WebCrypto where the request lands (the Worker):
 * RSASSA-PKCS1-v1_5 2048/SHA-256 and Ed25519. The private halves leave as PKCS#8 PEM (what the
 * bridge's signer reads) and are sealed in the account's ConfigDO; only the public halves are
 * ever answered.
 */
import { toBase64 } from "./bytes.ts";
import { selectorsFor, type DkimAlgorithm, type DomainPublicKey } from "./domains.ts";

export type DomainKeyPair = DomainPublicKey & { privateKey: string };

function pem(label: string, der: ArrayBuffer): string {
  return `-----BEGIN ${label}-----\n${toBase64(der).replace(/.{64}(?=.)/g, "$&\n")}\n-----END ${label}-----\n`;
}

async function pair(algorithm: DkimAlgorithm, selector: string): Promise<DomainKeyPair> {
  const keys = (
    algorithm === "rsa-sha256"
      ? await crypto.subtle.generateKey(
          { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
          true,
          ["sign", "verify"],
        )
      : await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])
  ) as CryptoKeyPair;
  // RSA: p= is the SubjectPublicKeyInfo (RFC 6376 §3.6.1); Ed25519: the raw 32-byte key (RFC 8463 §4).
  const publicKey = await crypto.subtle.exportKey(algorithm === "rsa-sha256" ? "spki" : "raw", keys.publicKey);
  const privateKey = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { selector, algorithm, publicKey: toBase64(publicKey as ArrayBuffer), privateKey: pem("PRIVATE KEY", privateKey as ArrayBuffer) };
}

/** A new domain's two key pairs, each under its own fresh selector. */
export async function generateDomainKeys(): Promise<DomainKeyPair[]> {
  const selectors = selectorsFor(crypto.getRandomValues(new Uint8Array(5)));
  return Promise.all([pair("rsa-sha256", selectors.rsa), pair("ed25519-sha256", selectors.ed25519)]);
}
