import { execFileSync } from "node:child_process";
import { createECDH, createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import {
  ACCOUNT_A,
  ACCOUNT_B,
  ACCOUNT_C,
  API_KEY_A,
  API_KEY_B,
  API_KEY_C,
  TEST_BOUNCE_MX_HOST,
  TEST_BRIDGE_HOST,
  TEST_DOH_HOST,
  TEST_PUSH_HOST,
  TEST_SMS_CONFIG,
  TEST_SPF_INCLUDE,
} from "./test/fixtures.ts";

// The admin key is made at run time too; the Worker tests read it from the binding.
const ADMIN_KEY = `admin-${randomBytes(16).toString("hex")}`;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
// Keys are made at run time: no secret, not even a test one, lives in the repo.
const vapid = createECDH("prime256v1");
vapid.generateKeys();

// SNS signs with a certificate: the Worker tests play SNS with this one, made now by openssl.
function snsTestCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "sns-test-"));
  try {
    const [keyFile, certFile] = [join(dir, "sns.key"), join(dir, "sns.pem")];
    const subject = "/CN=sns.amazonaws.com";
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", subject],
      {
        stdio: "ignore",
      },
    );
    return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const sns = snsTestCertificate();

// The Worker tests' runtime: wrangler.toml's bindings plus keys made at run time.
const workerd = () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          API_KEYS: JSON.stringify({
            [sha256(API_KEY_A)]: ACCOUNT_A,
            [sha256(API_KEY_B)]: ACCOUNT_B,
            [sha256(API_KEY_C)]: ACCOUNT_C,
          }),
          WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
          CONFIG_KEYS: `test1:${randomBytes(32).toString("base64")}`,
          ADMIN_API_KEY: ADMIN_KEY,
          VAPID_PUBLIC_KEY: vapid.getPublicKey().toString("base64url"),
          VAPID_PRIVATE_KEY: vapid.getPrivateKey().toString("base64url"),
          VAPID_SUBJECT: "mailto:tests@lasthop.dev",
          WEBPUSH_ALLOWED_HOSTS: `fcm.googleapis.com,*.notify.windows.com,${TEST_PUSH_HOST}`,
          RETRY_BASE_SECONDS: "0",
          // A fake bridge answers at this URL (test/worker/bridge-fake.ts); FCM is left unconfigured here
          // and proven end to end against the sandbox in test/node.
          BRIDGE_URL: `https://${TEST_BRIDGE_HOST}`,
          BRIDGE_CHANNELS: "apns,email,sms",
          EMAIL_CONFIG: JSON.stringify({
            [ACCOUNT_A]: {
              sendingDomains: ["lasthop.test"],
              bounceDomain: "bounces.lasthop.test",
              relay: { mode: "smarthost", host: "smtp.test", port: 587, secure: false },
            },
          }),
          UNSUBSCRIBE_SECRET: randomBytes(32).toString("hex"),
          PUBLIC_URL: "https://lasthop.test",
          EMAIL_RETRY_BASE_SECONDS: "1",
          EMAIL_MAX_AGE_SECONDS: "8",
          FCM_SERVICE_ACCOUNT: "",
          SOFT_BOUNCE_LIMIT: "3",
          SMS_CONFIG: JSON.stringify(TEST_SMS_CONFIG),
          SMS_DLR_WAIT_SECONDS: "4",
          // Sending domains are checked against a fake resolver (test/worker/doh-fake.ts).
          DOH_URL: `https://${TEST_DOH_HOST}/dns-query`,
          BOUNCE_MX_HOST: TEST_BOUNCE_MX_HOST,
          SPF_INCLUDE: TEST_SPF_INCLUDE,
          // The forged-request suite's count per scheme (test/worker/security/forged-*.test.ts): 400 in
          // `npm test` and CI (the 11 files take about 3.5 minutes here, 1,000 each about 24). Each scheme
          // has a file of its own: past ~1,500 requests in one file the harness's SELF.fetch overflows the
          // stack (workers-sdk#15446), and a file's requests slow as it goes.
          FORGED_TOTAL: process.env.FORGED_TOTAL ?? "400",
          // The webhook storm's unique events (test/worker/faults/storm.test.ts), one message per ten.
          STORM_EVENTS: process.env.STORM_EVENTS ?? "1000",
          // The platform's DKIM key for TLS-RPT report mail (RFC 8460 §5.3), made now.
          TLSRPT_DKIM_PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 })
            .privateKey.export({ type: "pkcs8", format: "pem" })
            .toString(),
          TEST_SNS_CERT: sns.cert,
          TEST_SNS_KEY: sns.key,
        },
      },
    }),
  ],
});

// Worker tests run inside workerd (the real runtime, DOs and Queues local); node tests start real
// processes (wrangler dev, the bridge, the sandbox) on loopback. The proof suites (issue 17) are
// projects of their own, so `npm run test:faults` and `npm run test:security` run them alone and
// `npm test` runs everything: faults (crashes, restarts, misbehaving peers, webhook storms) and
// security (fuzzing, forged requests, SSRF, isolation, secrets in logs), each in both runtimes.
const SUITES = ["faults", "security"] as const;

// Per-test timeouts are a backstop for a hang: every wait in a test has its own bound
// (test/wait.ts, WAIT_MS) that fails first and says what it waited for, so these sit well
// above a few such waits in a row on a busy machine.
const workerProject = (name: string, include: string[], exclude: string[] = []) => ({
  ...workerd(),
  test: { name, include, exclude, testTimeout: 180_000 },
});
// Hooks start stacks (wrangler dev, the bridge, the sandbox), slow on a busy machine. Long runs
// set LONG_RUN_MS and are guarded by a stall detector instead.
const nodeProject = (name: string, include: string[], exclude: string[] = []) => ({
  test: { name, include, exclude, testTimeout: 300_000, hookTimeout: 300_000 },
});

export default defineConfig({
  test: {
    // CI (.ci/run sets CI) reads the counts from a JSON report; people read the default one.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: "test-results/vitest.json" },
    projects: [
      workerProject(
        "worker",
        ["test/worker/**/*.test.ts"],
        SUITES.map((suite) => `test/worker/${suite}/**`),
      ),
      nodeProject(
        "node",
        ["test/node/**/*.test.ts", "test/core/**/*.test.ts"],
        SUITES.map((suite) => `test/node/${suite}/**`),
      ),
      ...SUITES.flatMap((suite) => [
        workerProject(`${suite}-worker`, [`test/worker/${suite}/**/*.test.ts`]),
        nodeProject(suite, [`test/node/${suite}/**/*.test.ts`]),
      ]),
    ],
  },
});
