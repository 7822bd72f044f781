import { createHash } from "node:crypto";
// The whole local stack in one process tree: the sandbox (every last hop, simulated), the
// bridge (a Node process, as in production) and the Worker under wrangler dev (local
// Durable Objects and Queues). Used by `npm start`, the end-to-end tests and the
// benchmarks, so all three run exactly the same thing.
import { fileURLToPath } from "node:url";
import { startBridgeProcess } from "./bridge-process.ts";
import { DEV_BOUNCE_DOMAIN, DEV_SENDING_DOMAIN, loadOrMakeDevKeys, makeDevKeys, type DevKeys } from "./dev-keys.ts";
import { startSandbox, type Sandbox, type SandboxOptions } from "./main.ts";
import { PortInUseError, startDevWorker, waitForPortFree } from "./dev-worker.ts";
import { freePort } from "./ports.ts";
import { ESP_PROVIDERS } from "./esp.ts";
import { WEBHOOK_PROVIDERS, type WebhookProvider } from "./provider-webhooks.ts";

export { freePort };

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export type StackOptions = SandboxOptions & {
  /**
   * Worker port. Default 8787; 0 picks a free port, and another one if that is taken before
   * wrangler dev binds it (the bridge is started again with the new EDGE_URL).
   */
  workerPort?: number;
  /** Bridge port. Default 8790; 0 picks a free port. */
  bridgePort?: number;
  /** The bridge's inbound SMTP (bounces to the bounce domain). Default 2526; 0 picks a free port. */
  inboundSmtpPort?: number;
  /** Where wrangler dev keeps DO, Queue and KV state. Default <repo>/.wrangler/state. */
  persistTo?: string;
  /** Plain-text bindings that override wrangler.toml, .dev.vars and the stack's own (tests pass generated keys). */
  vars?: Record<string, string>;
  /** Every chunk the bridge process writes, besides showing it (the secrets-in-logs test reads them). */
  onBridgeOutput?: (text: string) => void;
  /** Reload the Worker when its source changes. On for `npm start`, off for tests and benchmarks. */
  watch?: boolean;
  /** Keep the generated APNs key and service account in this file (npm start); default: fresh each run. */
  devKeysFile?: string;
  /** The Standard Webhooks secret shared by the Worker and the bridge. */
  bridgeSecret?: string;
  /** Accounts that get an email configuration (relay to the sandbox MTA, DKIM). Default ["dev"]. */
  emailAccounts?: string[];
  /** Relay those accounts through this instead of the sandbox MTA (tests use a real Postfix). */
  emailRelay?: Record<string, unknown>;
  /** Accounts that get an SMS configuration (SMPP to the sandbox SMSC first, its REST aggregator second). Default ["dev"]. */
  smsAccounts?: string[];
  /** Overrides for the bridge's SMPP route to the sandbox SMSC (window, tps, timeouts…). */
  smppRoute?: Record<string, unknown>;
  /** Binds of that route, all to the sandbox SMSC (default 1; the bench's scaling figure uses more). */
  smppBinds?: number;
  /**
   * The API key of the first email account: with it the stack configures every provider's
   * webhooks for that account (PUT /v1/providers/{provider} with the sandbox's dev credentials)
   * and points the sandbox's webhook senders at it. Default DEV_API_KEY (.dev.vars.example's
   * key of "dev"); null leaves the providers unconfigured.
   */
  accountKey?: string | null;
  /**
   * With an `accountKey`: make the sandbox receiver "dev" and give that account an event endpoint
   * at its URL (POST /v1/webhook-endpoints), so lasthop's outbound events can be watched arriving.
   * Default true.
   */
  webhookReceiver?: boolean;
  /**
   * With an `accountKey`: give that account one email route of each type, named after its type,
   * the relay first, the hosted ones at the sandbox's send APIs (PUT /v1/email/settings).
   * On for `npm start`; off by default, so a test stack relays only unless it asks.
   */
  emailRoutes?: boolean;
};

/** The dev account's SMS senders: MO and receipts addressed to them come back to it. */
export const DEV_SMS_SENDERS = ["+15005550006", "12345", "LASTHOP"];
/** The sandbox SMSC's dev credentials (SMPP 3.4 passwords are at most 8 characters). */
/** Worker bindings that are secrets or carry them (keys, passwords, DKIM keys in EMAIL_CONFIG, REST tokens in SMS_CONFIG). */
const SECRET_VAR = /SECRET|PRIVATE|API_KEY|CONFIG_KEYS|SERVICE_ACCOUNT|_CONFIG$/;

export const DEV_SMPP_BIND = { systemId: "lasthop", password: "devpass1" };

export type Stack = {
  workerUrl: string;
  /**
   * The account whose provider webhooks the stack configured, and each provider's URL on the
   * Worker (where the sandbox posts); null when `accountKey` was null.
   */
  providerWebhooks: { account: string; urls: Record<WebhookProvider, string> } | null;
  /**
   * The sandbox receiver the account's event endpoint points at; `secret` only when the endpoint
   * was made by this run (the API shows it once). null when off, without an accountKey, or when
   * the Worker has no /v1/webhook-endpoints.
   */
  webhookReceiver: WebhookReceiver | null;
  bridgeUrl: string;
  sandbox: Sandbox;
  keys: DevKeys;
  /** The plain-text bindings the Worker was started with (the bench starts an older Worker with the same). */
  workerVars: Record<string, string>;
  /** Where the bridge takes bounces by SMTP (the bounce domain's MX in production). */
  inboundSmtp: { host: string; port: number };
  /** Kills the bridge with SIGKILL (a crash) and starts a fresh one on the same port. */
  restartBridge(): Promise<void>;
  /**
   * Stops wrangler dev and starts it again on the same port and persistence (`persistTo`):
   * "stop" disposes it as wrangler dev does on SIGTERM; "kill" first SIGKILLs its workerd.
   */
  restartWorker(how?: "stop" | "kill"): Promise<void>;
  close(): Promise<void>;
};

export type WebhookReceiver = { name: string; url: string; endpointId: string; secret: string | null };

/** The sandbox receiver `npm start` connects to the dev account. */
export const DEV_RECEIVER = "dev";

export const DEV_BRIDGE_SECRET = "whsec_bGFzdGhvcC1kZXYtc2VjcmV0LTAwMDAwMDAw";
/** The platform admin's key of the local stack (as in .dev.vars.example); a test may pass its own in `vars`. */
export const DEV_ADMIN_KEY = "dev-admin-lasthop";
/** The dev account's API key (.dev.vars.example's API_KEYS: sha256 of it -> "dev"). */
export const DEV_API_KEY = "dev-key-lasthop";

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => console.error(error));
  };
  try {
    const sandbox = await startSandbox(opts);
    closers.push(sandbox.close);

    // Keys: the sandbox learns the public halves, the bridge and the Worker the private ones.
    const tokenUri = `${sandbox.httpUrl}/oauth/token`;
    const keys = opts.devKeysFile ? loadOrMakeDevKeys(opts.devKeysFile, tokenUri) : makeDevKeys(tokenUri);
    await control(sandbox.httpUrl, "/_sandbox/apns/keys", {
      keyId: keys.apns.keyId,
      teamId: keys.apns.teamId,
      publicKeyPem: keys.apns.publicKeyPem,
    });
    await control(sandbox.httpUrl, "/_sandbox/fcm/service-accounts", {
      clientEmail: keys.fcm.clientEmail,
      projectId: keys.fcm.projectId,
      publicKeyPem: keys.fcm.publicKeyPem,
    });

    const secret = opts.vars?.WEBHOOK_SECRET ?? opts.bridgeSecret ?? DEV_BRIDGE_SECRET;
    let bridgePort = opts.bridgePort === 0 ? await freePort() : (opts.bridgePort ?? 8790);
    let inboundPort = opts.inboundSmtpPort === 0 ? await freePort() : (opts.inboundSmtpPort ?? 2526);
    let workerPort = opts.workerPort === 0 ? await freePort() : (opts.workerPort ?? 8787);
    const bridgeEnvFor = (): Record<string, string> => ({
      // The bounce domain, and every verified sending domain's return-path host (the edge judges which are claimed).
      INBOUND_DOMAINS: `${DEV_BOUNCE_DOMAIN},lh-bounces.*`,
      INBOUND_SMTP_PORT: String(inboundPort),
      EDGE_URL: `http://127.0.0.1:${workerPort}`,
      BRIDGE_SECRET: secret,
      APNS_KEY: keys.apns.privateKeyPem,
      APNS_KEY_ID: keys.apns.keyId,
      APNS_TEAM_ID: keys.apns.teamId,
      APNS_PRODUCTION_ORIGIN: sandbox.apnsUrl,
      APNS_SANDBOX_ORIGIN: sandbox.apnsUrl,
      APNS_CA_FILE: sandbox.caPath,
      SMTP_CA_FILE: sandbox.caPath,
      SMTP_HELO_NAME: "bridge.lasthop.test",
      // Every DNS question of the SMTP path (MX, _mta-sts TXT, A/AAAA) goes to the sandbox's stub,
      // which answers from the records published at /_sandbox/dns/records (as DoH does for the Worker).
      SMTP_DNS_SERVERS: `${sandbox.dnsServer.host.includes(":") ? `[${sandbox.dnsServer.host}]` : sandbox.dnsServer.host}:${sandbox.dnsServer.port}`,
      // One SMPP route, "sandbox", bound to the sandbox SMSC. Its ids are hex in submit_sm_resp
      // and decimal in receipt texts (idMode "hex"), as many real SMSCs write them.
      SMPP_ROUTES: JSON.stringify([
        {
          name: "sandbox",
          binds: Array.from({ length: opts.smppBinds ?? 1 }, () => ({
            host: sandbox.smsc.host,
            port: sandbox.smsc.port,
            ...DEV_SMPP_BIND,
            mode: "transceiver",
          })),
          window: 10,
          submitIdBase: 16,
          receiptIdBase: 10,
          ...opts.smppRoute,
        },
      ]),
      LOG_LEVEL: process.env.BRIDGE_LOG_LEVEL ?? "warn",
    });
    let bridgeEnv = bridgeEnvFor();
    // Ports picked free can be taken before the bridge binds them: then it exits, and is started
    // again on new ones (three tries). Ports the caller named are used as given.
    const freeBridgePorts = opts.bridgePort === 0 && opts.inboundSmtpPort === 0;
    const startBridge = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await startBridgeProcess(REPO_ROOT, bridgePort, bridgeEnv, opts.onBridgeOutput);
        } catch (error) {
          if (!freeBridgePorts || attempt === 3) throw error;
          console.error(`the bridge did not start on ${bridgePort}/${inboundPort} (${String(error)}); trying new ports`);
          bridgePort = await freePort();
          inboundPort = await freePort();
          bridgeEnv = bridgeEnvFor();
        }
      }
    };
    let bridge = await startBridge();
    closers.push(() => bridge.stop());
    const restartBridge = async () => {
      await bridge.kill();
      bridge = await startBridgeProcess(REPO_ROOT, bridgePort, bridgeEnv, opts.onBridgeOutput);
    };

    // workerd verifies TLS; this makes it trust the sandbox's dev CA. Miniflare reads the
    // variable when its module loads (startDevWorker imports wrangler when first called).
    process.env.NODE_EXTRA_CA_CERTS = sandbox.caPath;
    // Every account relays through the bridge to the sandbox MTA as its smarthost
    // (STARTTLS required, AUTH), signing with the dev DKIM key.
    const emailAccount = {
      sendingDomains: [DEV_SENDING_DOMAIN],
      bounceDomain: DEV_BOUNCE_DOMAIN,
      dkim: { domain: keys.dkim.domain, selector: keys.dkim.selector, privateKey: keys.dkim.privateKeyPem, algorithm: "rsa-sha256" },
      relay: opts.emailRelay ?? {
        mode: "smarthost",
        host: sandbox.smtp.host,
        port: sandbox.smtp.port,
        secure: false,
        requireTLS: true,
        auth: { user: "dev", pass: "dev" },
      },
    };
    // SMS: SMPP through the bridge to the sandbox SMSC, failing over to the sandbox's REST aggregator.
    const smsAccount = {
      routes: [
        { name: "smpp", type: "smpp", bridgeRoute: "sandbox" },
        {
          name: "rest",
          type: "rest",
          baseUrl: sandbox.smsRest.baseUrl,
          accountSid: sandbox.smsRest.accountSid,
          authToken: sandbox.smsRest.authToken,
        },
      ],
      senders: DEV_SMS_SENDERS,
    };
    const vars: Record<string, string> = {
      WEBHOOK_SECRET: secret,
      // The configuration store's key ring: derived from the dev keys, so it is the same across
      // `npm start` runs (which keep their state and their dev keys) and new in every test stack.
      ADMIN_API_KEY: DEV_ADMIN_KEY,
      CONFIG_KEYS: `stack:${createHash("sha256").update(`lasthop config key\n${keys.dkim.privateKeyPem}`).digest("base64")}`,
      BRIDGE_CHANNELS: "apns,email,sms",
      SMS_CONFIG: JSON.stringify(Object.fromEntries((opts.smsAccounts ?? ["dev"]).map((a) => [a, smsAccount]))),
      EMAIL_CONFIG: JSON.stringify(Object.fromEntries((opts.emailAccounts ?? ["dev"]).map((a) => [a, emailAccount]))),
      UNSUBSCRIBE_SECRET: "dev-unsubscribe-secret-change-me",
      FCM_ORIGIN: `${sandbox.httpUrl}/fcm`,
      FCM_SERVICE_ACCOUNT: keys.fcm.json,
      // The stack's push service is the sandbox's: its host and port (an entry without a port allows 443 only).
      WEBPUSH_ALLOWED_HOSTS: new URL(sandbox.webpushUrl).host,
      // Sending domains verify against the sandbox's DNS (publish with POST /_sandbox/dns/records).
      DOH_URL: sandbox.dohUrl,
      // SNS's certificate and subscription URLs may be on the sandbox (it plays SNS for SES events).
      SNS_ORIGIN_PATTERN: escapeRegExp(new URL(sandbox.httpUrl).origin),
      // Event endpoints may be plain http on the sandbox's host:port (its receiver, /_sandbox/hooks).
      WEBHOOK_DEV_HOSTS: new URL(sandbox.httpUrl).host,
      // TLS-RPT report mail (RFC 8460 §5.3) is DKIM-signed by the platform: the dev key, made at run time.
      TLSRPT_FROM: `tlsrpt@${keys.dkim.domain}`,
      TLSRPT_DKIM_PRIVATE_KEY: keys.dkim.privateKeyPem,
      TLSRPT_DKIM_SELECTOR: keys.dkim.selector,
    };
    // The Worker's own origin, unless the test names another (a PUBLIC_URL in opts.vars).
    // The bridge's URL is read at each start: a retried start may have moved the bridge.
    const varsFor = (port: number): Record<string, string> => ({
      ...vars,
      BRIDGE_URL: bridge.url,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...opts.vars,
    });
    // The workerd processes of our wrangler dev: children of this process that appeared while it started.
    let workerds: number[] = [];
    const startWorker = async () => {
      const started = await startDevWorker({
        config: `${REPO_ROOT}wrangler.toml`,
        // Secrets (and the seeds that carry them) as secret_text: wrangler prints plain_text values in
        // its bindings table, and a 40-character prefix of a key is a leak too.
        bindings: Object.fromEntries(
          Object.entries(varsFor(workerPort)).map(([name, value]) => [
            name,
            { type: SECRET_VAR.test(name) ? "secret_text" : "plain_text", value },
          ]),
        ),
        dev: {
          server: { hostname: "127.0.0.1", port: workerPort },
          inspector: false,
          watch: opts.watch ?? false,
          ...(opts.persistTo ? { persist: opts.persistTo } : {}),
        },
      });
      workerds = started.workerds;
      return started.worker;
    };
    const startFirstWorker = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await startWorker();
        } catch (error) {
          // Taken before workerd bound it: a new port, and the bridge started again to post there.
          if (!(error instanceof PortInUseError) || opts.workerPort !== 0 || attempt === 3) throw error;
          console.error(`wrangler dev could not bind ${workerPort} (${error.message}); trying a new port`);
          workerPort = await freePort();
          bridgeEnv = bridgeEnvFor();
          await bridge.stop();
          bridge = await startBridge();
        }
      }
    };
    let worker = await startFirstWorker();
    closers.push(() => worker.dispose());
    const restartWorker = async (how: "stop" | "kill" = "stop") => {
      // A crash: workerd (wrangler dev's runtime, a child of this process) dies at once, nothing flushed.
      if (how === "kill") {
        if (workerds.length === 0) throw new Error("no workerd process of this stack found to kill");
        for (const pid of workerds) process.kill(pid, "SIGKILL");
      }
      await worker.dispose().catch(() => {});
      // The bridge posts to this port: wait until it can be bound, and again if it was taken anyway.
      for (let attempt = 1; ; attempt++) {
        await waitForPortFree(workerPort);
        try {
          worker = await startWorker();
          return;
        } catch (error) {
          if (!(error instanceof PortInUseError) || attempt === 3) throw error;
        }
      }
    };
    const url = await worker.url;
    // The aggregator's "a message comes in" webhook for each dev number, like a Twilio console setting.
    const smsInboundAccount = (opts.smsAccounts ?? ["dev"])[0];
    if (smsInboundAccount) {
      // Alphanumeric sender ids cannot receive.
      for (const number of DEV_SMS_SENDERS.filter((s) => /^\+?\d+$/.test(s))) {
        const smsUrl = `${url.origin}/v1/webhooks/twilio?account=${encodeURIComponent(smsInboundAccount)}&route=rest`;
        const response = await fetch(`${sandbox.httpUrl}/_sandbox/sms/rest/numbers/${encodeURIComponent(number)}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ smsUrl }),
        });
        if (!response.ok) throw new Error(`sandbox numbers ${number}: ${response.status} ${await response.text()}`);
      }
    }
    const accountKey = opts.accountKey === undefined ? DEV_API_KEY : opts.accountKey;
    const webhookAccount = (opts.emailAccounts ?? ["dev"])[0];
    const providerWebhooks =
      accountKey && webhookAccount ? await configureProviderWebhooks(sandbox, url.origin, webhookAccount, accountKey) : null;
    if (accountKey && opts.emailRoutes) await configureEmailRoutes(sandbox, url.origin, accountKey);
    const webhookReceiver =
      accountKey && (opts.webhookReceiver ?? true) ? await connectWebhookReceiver(sandbox, url.origin, accountKey) : null;
    let closing: Promise<void> | null = null;
    return {
      workerUrl: url.origin,
      providerWebhooks,
      webhookReceiver,
      bridgeUrl: bridge.url,
      inboundSmtp: { host: "127.0.0.1", port: inboundPort },
      sandbox,
      keys,
      workerVars: varsFor(workerPort),
      restartBridge,
      restartWorker,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Every provider's webhooks for `account`, through the real API (PUT /v1/providers/{provider}
 * with the account's key) with the sandbox's dev credentials, as a developer pastes them from
 * each provider's console; then the sandbox's senders post to that account by default.
 */
async function configureProviderWebhooks(
  sandbox: Sandbox,
  workerUrl: string,
  account: string,
  accountKey: string,
): Promise<{ account: string; urls: Record<WebhookProvider, string> }> {
  const config = sandbox.webhooks.config();
  const send = sandbox.esp.config();
  for (const provider of WEBHOOK_PROVIDERS) {
    // The send API's credentials beside the webhook secrets: one section per provider.
    const { baseUrl: _, ...credentials } = (send as Partial<Record<string, { baseUrl: string }>>)[provider] ?? { baseUrl: "" };
    const response = await fetch(`${workerUrl}/v1/providers/${provider}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${accountKey}`, "content-type": "application/json" },
      body: JSON.stringify({ ...config[provider], ...credentials }),
    });
    if (!response.ok) {
      throw new Error(
        `configuring ${provider} webhooks for account ${account}: ${response.status} ${await response.text()} (is StackOptions.accountKey that account's key?)`,
      );
    }
    await response.body?.cancel();
  }
  sandbox.webhooks.setTarget({ workerUrl, account, smsSender: DEV_SMS_SENDERS[0] });
  const urls = Object.fromEntries(WEBHOOK_PROVIDERS.map((p) => [p, sandbox.webhooks.defaultUrl(p)!])) as Record<WebhookProvider, string>;
  return { account, urls };
}

/**
 * One email route of each type, named after its type, the relay first: the hosted ones at the
 * sandbox's simulators of their send APIs (GET the section, set `routes`, PUT it back: the
 * masked secrets a read shows are kept).
 */
async function configureEmailRoutes(sandbox: Sandbox, workerUrl: string, accountKey: string): Promise<void> {
  const headers = { authorization: `Bearer ${accountKey}`, "content-type": "application/json" };
  const current = await fetch(`${workerUrl}/v1/email/settings`, { headers });
  if (!current.ok) throw new Error(`reading the email settings: ${current.status} ${await current.text()}`);
  const settings = (await current.json()) as Record<string, unknown>;
  const send = sandbox.esp.config();
  const routes = [{ name: "relay", type: "relay" }, ...ESP_PROVIDERS.map((type) => ({ name: type, type, baseUrl: send[type].baseUrl }))];
  const response = await fetch(`${workerUrl}/v1/email/settings`, { method: "PUT", headers, body: JSON.stringify({ ...settings, routes }) });
  if (!response.ok) throw new Error(`configuring the email routes: ${response.status} ${await response.text()}`);
  await response.body?.cancel();
}

/**
 * The sandbox receiver "dev" as one of the account's event endpoints, through the real API: an
 * endpoint already at its URL (`npm start` keeps its state, and the sandbox its port) is kept,
 * else one is made, whose secret is shown this once. null, after one line of log, when the
 * Worker has no /v1/webhook-endpoints (404) yet.
 */
export async function connectWebhookReceiver(sandbox: Sandbox, workerUrl: string, accountKey: string): Promise<WebhookReceiver | null> {
  const { name, url } = sandbox.hooks.create(DEV_RECEIVER);
  const authorization = `Bearer ${accountKey}`;
  const listed = await fetch(`${workerUrl}/v1/webhook-endpoints`, { headers: { authorization } });
  if (listed.status === 404) {
    await listed.body?.cancel();
    console.log("webhook endpoints: the Worker answers 404 for /v1/webhook-endpoints; no sandbox receiver connected");
    return null;
  }
  if (!listed.ok) throw new Error(`listing webhook endpoints: ${listed.status} ${await listed.text()}`);
  const { data } = (await listed.json()) as { data: Array<{ id: string; url: string }> };
  const existing = data.find((endpoint) => endpoint.url === url);
  if (existing) return { name, url, endpointId: existing.id, secret: null };
  const created = await fetch(`${workerUrl}/v1/webhook-endpoints`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ url, description: "sandbox receiver (npm start)" }),
  });
  if (!created.ok) throw new Error(`creating the webhook endpoint ${url}: ${created.status} ${await created.text()}`);
  const endpoint = (await created.json()) as { id: string; secret: string };
  return { name, url, endpointId: endpoint.id, secret: endpoint.secret };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function control(base: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${path}: ${response.status} ${await response.text()}`);
}
