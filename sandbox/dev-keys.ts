// Keys for the local stack: an APNs .p8-style EC key and an FCM service account, made at
// run time (never committed). `npm start` keeps them in .sandbox/dev-keys.json so a restart
// reuses them; tests and benchmarks make fresh ones each run.
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { generateApnsKey, generateServiceAccount } from "./keys.ts";

export type DevKeys = {
  apns: { keyId: string; teamId: string; privateKeyPem: string; publicKeyPem: string };
  fcm: { json: string; clientEmail: string; projectId: string; publicKeyPem: string };
  /** DKIM (RSA 2048) for the dev sending domain; `publicKey` is the base64 SPKI for the p= tag. */
  dkim: { domain: string; selector: string; privateKeyPem: string; publicKey: string };
};

export const DEV_SENDING_DOMAIN = "lasthop.test";
export const DEV_BOUNCE_DOMAIN = "bounces.lasthop.test";

export function makeDevKeys(tokenUri: string): DevKeys {
  const apns = generateApnsKey();
  const fcm = generateServiceAccount({ tokenUri, projectId: "lasthop-dev" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const dkim = {
    domain: DEV_SENDING_DOMAIN,
    selector: "dev",
    privateKeyPem: rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: rsa.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
  };
  return {
    dkim,
    apns: { keyId: apns.keyId, teamId: apns.teamId, privateKeyPem: apns.privateKeyPem, publicKeyPem: apns.publicKeyPem },
    fcm: { json: fcm.json, clientEmail: fcm.clientEmail, projectId: fcm.projectId, publicKeyPem: fcm.publicKeyPem },
  };
}

/** Loads the keys kept in `file`, or makes and keeps them; a token URI that moved means new keys. */
export function loadOrMakeDevKeys(file: string, tokenUri: string): DevKeys {
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, "utf8")) as DevKeys;
    if (kept.dkim && JSON.parse(kept.fcm.json).token_uri === tokenUri) return kept;
  }
  const keys = makeDevKeys(tokenUri);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}
