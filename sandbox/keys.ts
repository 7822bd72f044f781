// Throwaway credentials in the formats the real providers hand out, so tests and `npm start`
// run with no account: an APNs auth key (the .p8 download) and a Google service-account key
// file. Made at run time; no key, not even a test one, lives in the repo.
import { generateKeyPairSync, randomBytes, randomInt } from "node:crypto";

export type ApnsKeyMaterial = {
  /** 10 uppercase alphanumerics, as Apple shows beside the key. */
  keyId: string;
  /** 10 uppercase alphanumerics. */
  teamId: string;
  /** PKCS#8 PEM: the content of AuthKey_<keyId>.p8. */
  privateKeyPem: string;
  /** SPKI PEM, for startSandbox({apnsKeys}) or POST /_sandbox/apns/keys. */
  publicKeyPem: string;
};

export type ServiceAccountMaterial = {
  /** The key file as Google's console downloads it (pretty-printed JSON). */
  json: string;
  clientEmail: string;
  projectId: string;
  /** SPKI PEM, for startSandbox({fcmServiceAccounts}) or POST /_sandbox/fcm/service-accounts. */
  publicKeyPem: string;
};

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** A P-256 signing key for APNs provider tokens (ES256). */
export function generateApnsKey(): ApnsKeyMaterial {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    keyId: randomString(ALPHANUMERIC, 10),
    teamId: randomString(ALPHANUMERIC, 10),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

/**
 * An RSA-2048 service account for FCM. `tokenUri` becomes the key file's token_uri, which
 * Google's libraries use both as the token endpoint and as the assertion's `aud`; point it at
 * the sandbox (`${sandbox.httpUrl}/oauth/token`).
 */
export function generateServiceAccount(opts: { tokenUri: string; projectId: string; name?: string }): ServiceAccountMaterial {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  // Firebase names its default account firebase-adminsdk-<5 random characters>.
  const name = opts.name ?? `firebase-adminsdk-${randomString("abcdefghijklmnopqrstuvwxyz0123456789", 5)}`;
  const clientEmail = `${name}@${opts.projectId}.iam.gserviceaccount.com`;
  // Field order and values follow the key files Google's console produces.
  const file = {
    type: "service_account",
    project_id: opts.projectId,
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    client_email: clientEmail,
    client_id: randomString("0123456789", 21).replace(/^0/, "1"),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: opts.tokenUri,
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: "googleapis.com",
  };
  return {
    json: `${JSON.stringify(file, null, 2)}\n`,
    clientEmail,
    projectId: opts.projectId,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

function randomString(alphabet: string, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[randomInt(alphabet.length)];
  return text;
}
