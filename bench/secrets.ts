// Every secret the benchmark needs, made fresh for each run: no key, not even a bench one,
// lives in the repository.
import { createECDH, createHash, randomBytes } from "node:crypto";

export type Secrets = {
  apiKey: string;
  webhookSecret: string;
  vapid: { subject: string; publicKey: string; privateKey: string };
  /**
   * The plain-text bindings startStack() takes (they override .dev.vars). The push allowlist is
   * the stack's own: the sandbox push service's host and port.
   */
  vars(): Record<string, string>;
};

export function generateSecrets(): Secrets {
  const apiKey = `bench-${randomBytes(16).toString("hex")}`;
  const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const vapid = {
    subject: "mailto:bench@lasthop.dev",
    publicKey: ecdh.getPublicKey().toString("base64url"),
    // d must be exactly 32 bytes (web-push and JWK both insist); pad a short one.
    privateKey: Buffer.concat([Buffer.alloc(32), ecdh.getPrivateKey()])
      .subarray(-32)
      .toString("base64url"),
  };
  return {
    apiKey,
    webhookSecret,
    vapid,
    vars: () => ({
      API_KEYS: JSON.stringify({ [createHash("sha256").update(apiKey).digest("hex")]: "bench" }),
      WEBHOOK_SECRET: webhookSecret,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: vapid.subject,
      // A push that must be retried comes back in seconds, inside the run.
      RETRY_BASE_SECONDS: "1",
    }),
  };
}
