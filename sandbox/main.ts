// Starts the sandbox: the control API over HTTP (which also serves FCM and Google's OAuth token
// endpoint), the simulated web push service over HTTPS, APNs over HTTP/2 + TLS and a receiving
// MTA over SMTP (STARTTLS), an SMSC over SMPP, and a Twilio-style REST SMS aggregator (on the
// control server, under /sms/), and Vonage's SMS API (under /vonage/, sms-vonage.ts), and DNS over HTTPS (`/dns-query`, records published through
// /_sandbox/dns/records) for sending domains, and a DNS stub over UDP and TCP answering from the
// same records (dns-server.ts: the bridge's SMTP_DNS_SERVERS), and the email and SMS providers' own webhook
// senders (SendGrid, SES through SNS, Mailgun, Postmark, Resend, Standard Webhooks, Vonage:
// /_sandbox/webhooks/*, provider-webhook-routes.ts), and a webhook receiver for lasthop's own
// outbound events (/_sandbox/hooks/*, hook-routes.ts).
// Run directly (`node sandbox/main.ts`) for local development, or call startSandbox() from tests.
import type { Server } from "node:http";
import type { ApnsKey } from "./apns-auth.ts";
import { apnsRoutes } from "./apns-routes.ts";
import { ApnsService } from "./apns.ts";
import { createControlServer } from "./control.ts";
import { dnsRoutes } from "./dns-routes.ts";
import { DnsStore } from "./dns.ts";
import { startDnsServer, type DnsServer } from "./dns-server.ts";
import { fcmRoutes } from "./fcm-routes.ts";
import { FcmService } from "./fcm.ts";
import { hookRoutes } from "./hook-routes.ts";
import { HookStore, type HookLimits } from "./hooks.ts";
import { close, listen, urlHost } from "./http.ts";
import { OAuthService, type ServiceAccount } from "./oauth.ts";
import { EspService } from "./esp.ts";
import { espRoutes } from "./esp-routes.ts";
import { providerWebhookRoutes } from "./provider-webhook-routes.ts";
import { ProviderWebhooks, type VonageSignatureMethod } from "./provider-webhooks.ts";
import { DEFAULT_SMS_REST_ACCOUNTS, SmsRestService, type SmsRestAccount } from "./sms-rest.ts";
import { smsRoutes } from "./sms-routes.ts";
import { smsVonageRoutes } from "./sms-vonage-routes.ts";
import { VonageSmsService } from "./sms-vonage.ts";
import { DEFAULT_SMSC_DLR_DELAY_MS, DEFAULT_SMSC_LATE_DLR_MS, SmscService, type SmscCredential, type SmscIdMode } from "./smsc.ts";
import { smtpRoutes } from "./smtp-routes.ts";
import { SmtpService } from "./smtp.ts";
import { ReceivedStore } from "./store.ts";
import { DEFAULT_CERT_DIR, ensureDevCertificates } from "./tls.ts";
import { WebPushService } from "./webpush.ts";

export type SandboxOptions = {
  /** Listen address for both servers. Default 127.0.0.1 (the dev certificate covers it). */
  host?: string;
  /** Control API port. Default 8791; 0 picks a free port. */
  httpPort?: number;
  /** Push service port. Default 8793; 0 picks a free port. */
  webpushPort?: number;
  /**
   * APNs (HTTP/2 over TLS) port. Default 8792; 0 picks a free port. When omitted while
   * webpushPort is 0, a free port too: callers that ask for free ports and predate APNs
   * (tests running in parallel, benchmarks) must not collide on 8792.
   */
  apnsPort?: number;
  /**
   * SMTP (receiving MTA) port. Default 2525; 0 picks a free port. When omitted while
   * webpushPort is 0, a free port too (the same rule as apnsPort).
   */
  smtpPort?: number;
  /**
   * SMSC (SMPP) port. Default 2775; 0 picks a free port. When omitted while webpushPort is 0,
   * a free port too (the same rule as apnsPort).
   */
  smscPort?: number;
  /**
   * DNS stub (UDP and TCP on one port) port. Default 8553; 0 picks a free port. When omitted
   * while webpushPort is 0, a free port too (the same rule as apnsPort).
   */
  dnsPort?: number;
  /** system_id/password pairs the SMSC accepts. Default [{systemId: "lasthop", password: "devpass1"}]. */
  smscCredentials?: SmscCredential[];
  /** Delay before a DLR (and the REST aggregator's final status callback). Default 200 ms. */
  smscDlrDelayMs?: number;
  /** Delay before the DLR (or final callback) for a number ending in 1111. Default 3000 ms. */
  smscLateDlrMs?: number;
  /** How long a deliver_sm (DLR, MO) waits for its resp before it is sent again. Default 5000 ms. */
  smscRedeliverMs?: number;
  /** SMSC message id format when no fault sets one: "hex" (default) or "decimal". */
  smscIdMode?: SmscIdMode;
  /** Accounts of the REST SMS aggregator. Default [{sid: "AC000…0001", authToken: "devtwilioauthtoken000…"}]. */
  smsRestAccounts?: SmsRestAccount[];
  /** The REST aggregator's SMS URL (inbound webhook) for numbers without their own. */
  smsRestInboundUrl?: string;
  /** How Vonage's SMS API checks `sig` and signs its receipts. Default md5hash. */
  vonageSignatureMethod?: VonageSignatureMethod;
  /** The region SES's SigV4 credentials are scoped to. Default us-east-1. */
  sesRegion?: string;
  /** Largest message the MTA accepts, advertised as SIZE. Default 10 MiB. */
  smtpMaxSize?: number;
  /** How long the MTA holds the 250 after DATA for a "slow" recipient. Default 2000 ms (at most 30 s). */
  smtpSlowMs?: number;
  /** Where the dev CA and server certificate live. Default <repo>/.sandbox/. */
  certDir?: string;
  /** APNs signing keys accepted from the start (more via POST /_sandbox/apns/keys). */
  apnsKeys?: ApnsKey[];
  /** FCM service accounts accepted from the start (more via POST /_sandbox/fcm/service-accounts). */
  fcmServiceAccounts?: ServiceAccount[];
  /** How long an APNs push to a "hold" device token waits for its 200. Default 300 ms. */
  holdMs?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS the APNs server advertises. Default 500. */
  apnsMaxConcurrentStreams?: number;
  /** The webhook receiver's caps (hooks, arrivals per hook, bytes kept, behaviours queued); tests lower them. */
  hookLimits?: Partial<HookLimits>;
};

export type Sandbox = {
  /** Control API base URL, e.g. "http://127.0.0.1:8791". */
  httpUrl: string;
  /** Push service origin, e.g. "https://127.0.0.1:8793" (the VAPID aud for its endpoints). */
  webpushUrl: string;
  /** APNs origin, e.g. "https://127.0.0.1:8792"; pushes go to `${apnsUrl}/3/device/<token>`. */
  apnsUrl: string;
  /** The receiving MTA (plain SMTP, STARTTLS offered with the dev CA's certificate). */
  smtp: { host: string; port: number };
  /** The SMSC (SMPP 3.4, plain TCP). */
  smsc: { host: string; port: number };
  /** The Twilio-style REST aggregator: `${baseUrl}/2010-04-01/Accounts/${accountSid}/Messages.json`, first configured account. */
  smsRest: { baseUrl: string; accountSid: string; authToken: string };
  /** Vonage's SMS API: `smsVonage.config()` (also GET /_sandbox/sms/vonage/config), its behaviours and numbers. */
  smsVonage: VonageSmsService;
  /** PEM file of the dev CA; give it to clients as NODE_EXTRA_CA_CERTS or `ca:`. */
  caPath: string;
  /** DNS over HTTPS (JSON API) answering from `dns`: the Worker's DOH_URL. */
  dohUrl: string;
  /** The DNS stub (UDP and TCP, one port) answering from `dns`: the bridge's SMTP_DNS_SERVERS is `${host}:${port}`. */
  dnsServer: { host: string; port: number };
  /** The records the DoH endpoint and the DNS stub answer from (also reachable through /_sandbox/dns/records). */
  dns: DnsStore;
  /**
   * The providers' webhook senders: their dev credentials (`config()`, the bodies for lasthop's
   * PUT /v1/providers/{provider}) and `emit` (also POST /_sandbox/webhooks/emit).
   */
  webhooks: ProviderWebhooks;
  /** The webhook receiver: hooks that record what arrives at `${httpUrl}/_sandbox/hooks/<name>` (also /_sandbox/hooks). */
  hooks: HookStore;
  /** The email providers' send APIs: `esp.config()` (also GET /_sandbox/esp/config) and what they accepted. */
  esp: EspService;
  close(): Promise<void>;
};

export const DEFAULT_HTTP_PORT = 8791;
export const DEFAULT_WEBPUSH_PORT = 8793;
export const DEFAULT_APNS_PORT = 8792;
export const DEFAULT_SMTP_PORT = 2525;
export const DEFAULT_SMSC_PORT = 2775;
export const DEFAULT_DNS_PORT = 8553;

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const host = opts.host ?? "127.0.0.1";
  const tls = ensureDevCertificates(opts.certDir ?? DEFAULT_CERT_DIR);
  const store = new ReceivedStore();
  const webpush = new WebPushService(store, tls);
  const apns = new ApnsService(store, tls, { holdMs: opts.holdMs, maxConcurrentStreams: opts.apnsMaxConcurrentStreams });
  const oauth = new OAuthService();
  const fcm = new FcmService(store, oauth);
  const smtp = new SmtpService(store, tls, { maxSize: opts.smtpMaxSize, slowMs: opts.smtpSlowMs });
  const smsDelays = {
    dlrDelayMs: opts.smscDlrDelayMs ?? DEFAULT_SMSC_DLR_DELAY_MS,
    lateDlrMs: opts.smscLateDlrMs ?? DEFAULT_SMSC_LATE_DLR_MS,
  };
  const smsc = new SmscService(store, {
    ...smsDelays,
    credentials: opts.smscCredentials,
    redeliverMs: opts.smscRedeliverMs,
    idMode: opts.smscIdMode,
  });
  const dns = new DnsStore();
  const smsRest = new SmsRestService(store, {
    ...smsDelays,
    accounts: opts.smsRestAccounts ?? DEFAULT_SMS_REST_ACCOUNTS,
    inboundUrl: opts.smsRestInboundUrl,
  });
  const smsVonage = new VonageSmsService(store, { ...smsDelays, signatureMethod: opts.vonageSignatureMethod });
  const webhooks = new ProviderWebhooks();
  const hooks = new HookStore(opts.hookLimits);
  const esp = new EspService(store, webhooks, { sesRegion: opts.sesRegion });
  // Bad keys fail the start, before anything listens.
  for (const key of opts.apnsKeys ?? []) apns.registerKey(key);
  for (const account of opts.fcmServiceAccounts ?? []) oauth.registerServiceAccount(account);
  const control: Server = createControlServer(store, webpush, [
    ...apnsRoutes(apns),
    ...fcmRoutes(fcm, oauth),
    ...smtpRoutes(smtp),
    ...smsRoutes(smsc, smsRest),
    ...smsVonageRoutes(smsVonage),
    ...dnsRoutes(dns),
    ...providerWebhookRoutes(webhooks),
    ...espRoutes(esp),
    ...hookRoutes(hooks),
  ]);

  let dnsServer: DnsServer | undefined;
  const closeAll = () =>
    Promise.all([
      close(control),
      dnsServer?.close(),
      webpush.close(),
      apns.close(),
      smtp.close(),
      smsc.close(),
      smsRest.close(),
      smsVonage.close(),
      esp.close(),
    ]).then(() => undefined);
  let webpushUrl: string;
  let apnsUrl: string;
  let smtpAddress: { host: string; port: number };
  let smscAddress: { host: string; port: number };
  let httpPort: number;
  try {
    webpushUrl = await webpush.listen(host, opts.webpushPort ?? DEFAULT_WEBPUSH_PORT);
    apnsUrl = await apns.listen(host, opts.apnsPort ?? (opts.webpushPort === 0 ? 0 : DEFAULT_APNS_PORT));
    smtpAddress = await smtp.listen(host, opts.smtpPort ?? (opts.webpushPort === 0 ? 0 : DEFAULT_SMTP_PORT));
    smscAddress = await smsc.listen(host, opts.smscPort ?? (opts.webpushPort === 0 ? 0 : DEFAULT_SMSC_PORT));
    dnsServer = await startDnsServer(dns, host, opts.dnsPort ?? (opts.webpushPort === 0 ? 0 : DEFAULT_DNS_PORT));
    httpPort = await listen(control, host, opts.httpPort ?? DEFAULT_HTTP_PORT);
  } catch (error) {
    await closeAll();
    throw error;
  }
  const httpUrl = `http://${urlHost(host)}:${httpPort}`;
  // Service-account assertions must name the token endpoint as their audience.
  oauth.setTokenUri(`${httpUrl}/oauth/token`);
  // SNS messages name the certificate and the subscription URL on the control server.
  webhooks.setOrigin(httpUrl);
  // Receiving URLs and 3xx locations name the control server.
  hooks.setOrigin(httpUrl);
  // The send APIs' base URLs name the control server.
  esp.setOrigin(httpUrl);
  smsVonage.setOrigin(httpUrl);

  let closing: Promise<void> | null = null;
  return {
    httpUrl,
    webpushUrl,
    apnsUrl,
    smtp: smtpAddress,
    smsc: smscAddress,
    smsRest: { baseUrl: `${httpUrl}/sms`, accountSid: smsRest.defaultAccount.sid, authToken: smsRest.defaultAccount.authToken },
    smsVonage,
    caPath: tls.caPath,
    dohUrl: `${httpUrl}/dns-query`,
    dnsServer: { host: dnsServer.host, port: dnsServer.port },
    dns,
    webhooks,
    hooks,
    esp,
    close: () => (closing ??= closeAll()),
  };
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got ${raw}`);
  return port;
}

async function runFromCommandLine(): Promise<void> {
  const sandbox = await startSandbox({
    httpPort: portFromEnv("SANDBOX_HTTP_PORT", DEFAULT_HTTP_PORT),
    webpushPort: portFromEnv("SANDBOX_WEBPUSH_PORT", DEFAULT_WEBPUSH_PORT),
    apnsPort: portFromEnv("SANDBOX_APNS_PORT", DEFAULT_APNS_PORT),
    smtpPort: portFromEnv("SANDBOX_SMTP_PORT", DEFAULT_SMTP_PORT),
    smscPort: portFromEnv("SANDBOX_SMSC_PORT", DEFAULT_SMSC_PORT),
    dnsPort: portFromEnv("SANDBOX_DNS_PORT", DEFAULT_DNS_PORT),
    certDir: process.env.SANDBOX_CERT_DIR || undefined,
  });
  console.log(`sandbox control API   ${sandbox.httpUrl}`);
  console.log(`sandbox web push      ${sandbox.webpushUrl}  (trust ${sandbox.caPath} via NODE_EXTRA_CA_CERTS)`);
  console.log(`sandbox APNs (h2)     ${sandbox.apnsUrl}  (keys: POST ${sandbox.httpUrl}/_sandbox/apns/keys)`);
  console.log(
    `sandbox FCM v1        ${sandbox.httpUrl}/fcm/v1/projects/<project>/messages:send  (token endpoint ${sandbox.httpUrl}/oauth/token)`,
  );
  console.log(
    `sandbox SMTP (MTA)    ${urlHost(sandbox.smtp.host)}:${sandbox.smtp.port}  (STARTTLS with the dev CA, any AUTH; recipients with bounce/block/full/soft/slow decide the outcome)`,
  );
  console.log(
    `sandbox SMSC (SMPP)   ${urlHost(sandbox.smsc.host)}:${sandbox.smsc.port}  (system_id lasthop, password devpass1; numbers ending 0000/1111/2222 bounce/late/throttle)`,
  );
  console.log(
    `sandbox SMS REST      ${sandbox.smsRest.baseUrl}/2010-04-01/Accounts/${sandbox.smsRest.accountSid}/Messages.json  (Basic ${sandbox.smsRest.accountSid}:${sandbox.smsRest.authToken})`,
  );
  console.log(`sandbox Vonage SMS    ${sandbox.httpUrl}/vonage/sms/json  (credentials: GET ${sandbox.httpUrl}/_sandbox/sms/vonage/config)`);
  console.log(`sandbox DNS (DoH JSON)  ${sandbox.dohUrl}  (records: POST ${sandbox.httpUrl}/_sandbox/dns/records)`);
  console.log(
    `sandbox DNS (UDP/TCP)  ${urlHost(sandbox.dnsServer.host)}:${sandbox.dnsServer.port}  (the same records; the bridge's SMTP_DNS_SERVERS)`,
  );
  console.log(
    `sandbox provider hooks ${sandbox.httpUrl}/_sandbox/webhooks/emit  (credentials: GET ${sandbox.httpUrl}/_sandbox/webhooks/config; default target: PUT ${sandbox.httpUrl}/_sandbox/webhooks/target)`,
  );
  console.log(
    `sandbox email APIs     ${sandbox.httpUrl}/{sendgrid,ses,mailgun,postmark,resend}/…  (credentials: GET ${sandbox.httpUrl}/_sandbox/esp/config)`,
  );
  console.log(
    `sandbox event receiver ${sandbox.httpUrl}/_sandbox/hooks/<name>  (make one: POST ${sandbox.httpUrl}/_sandbox/hooks {"name"}; read: GET …/<name>/received)`,
  );

  const stop = (signal: string) => {
    console.log(`sandbox stopping (${signal})`);
    // Closing the servers empties the event loop; the timer only guards against a stuck socket.
    setTimeout(() => process.exit(1), 5_000).unref();
    sandbox.close().catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.main) {
  runFromCommandLine().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
