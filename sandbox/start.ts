// `npm start`: the Worker on 127.0.0.1:8787 and the sandbox beside it, no account, no network.
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, startStack } from "./stack.ts";

const devVars = join(REPO_ROOT, ".dev.vars");
if (!existsSync(devVars)) {
  copyFileSync(join(REPO_ROOT, ".dev.vars.example"), devVars);
  console.log("created .dev.vars from .dev.vars.example (dev-only keys)");
}

const stack = await startStack({ watch: true, devKeysFile: join(REPO_ROOT, ".sandbox/dev-keys.json"), emailRoutes: true });
console.log(`
lasthop is running
  API (Worker)        ${stack.workerUrl}          API key: dev-key-lasthop
  bridge              ${stack.bridgeUrl}          /healthz, /metrics
  bridge inbound SMTP ${stack.inboundSmtp.host}:${stack.inboundSmtp.port}      bounces to @bounces.lasthop.test
  sandbox control     ${stack.sandbox.httpUrl}    /_sandbox/received, /_sandbox/webpush/subscriptions, /_sandbox/apns/tokens
  sandbox web push    ${stack.sandbox.webpushUrl}
  sandbox APNs (h2)   ${stack.sandbox.apnsUrl}
  sandbox SMTP (MTA)  ${stack.sandbox.smtp.host}:${stack.sandbox.smtp.port}  (the dev account's smarthost; DKIM selector dev._domainkey.lasthop.test)
  sandbox FCM         ${stack.sandbox.httpUrl}/fcm  (OAuth at /oauth/token)
  sandbox SMSC (SMPP) ${stack.sandbox.smsc.host}:${stack.sandbox.smsc.port}  (system_id lasthop; the dev account's "smpp" route, through the bridge)
  sandbox SMS REST    ${stack.sandbox.smsRest.baseUrl}  (Twilio-compatible; the dev account's "rest" route; MO: POST /_sandbox/sms/mo)
  sandbox DNS (DoH)   ${stack.sandbox.dohUrl}  (the Worker's DOH_URL for /v1/domains; publish with POST /_sandbox/dns/records)
  sandbox DNS (stub)  ${stack.sandbox.dnsServer.host}:${stack.sandbox.dnsServer.port}  (UDP/TCP, the same records: the bridge's SMTP_DNS_SERVERS)
  email routes        relay first, then sendgrid, ses, mailgun, postmark, resend at the sandbox's send APIs
                      (send with "route":"<name>"; GET ${stack.workerUrl}/v1/routes; what each received: /_sandbox/received?channel=email, field provider)
${providerWebhookLines()}
${webhookReceiverLines()}
Press Ctrl+C to stop.`);

/** Each provider's webhook URL on the Worker, configured for the dev account with the sandbox's dev credentials. */
function providerWebhookLines(): string {
  const hooks = stack.providerWebhooks;
  if (!hooks) return "  provider webhooks   not configured";
  const width = Math.max(...Object.keys(hooks.urls).map((p) => p.length));
  const lines = Object.entries(hooks.urls).map(([provider, url]) => `    ${provider.padEnd(width)}  ${url}`);
  return [
    `  provider webhooks   for account "${hooks.account}", signed by the sandbox (credentials: GET ${stack.sandbox.httpUrl}/_sandbox/webhooks/config)`,
    ...lines,
    `    emit one: curl -s ${stack.sandbox.httpUrl}/_sandbox/webhooks/emit -H 'content-type: application/json' -d '{"provider":"sendgrid","event":"bounce","recipient":"gone@example.com"}'`,
  ].join("\n");
}

/** The sandbox receiver the dev account's event endpoint posts to, and how to watch events arrive. */
function webhookReceiverLines(): string {
  const receiver = stack.webhookReceiver;
  if (!receiver) return "  event stream        no sandbox receiver (the Worker has no /v1/webhook-endpoints)";
  const rotate = `POST /v1/webhook-endpoints/${receiver.endpointId}/rotate-secret`;
  return [
    `  event stream        the dev account's events go to the sandbox receiver ${receiver.url}`,
    `    endpoint id       ${receiver.endpointId}`,
    `    signing secret    ${receiver.secret ?? `shown when created; rotate with ${rotate}`}`,
    `    watch them        curl -s ${stack.sandbox.httpUrl}/_sandbox/hooks/${receiver.name}/received`,
    `    make it fail      curl -s ${receiver.url}/behaviour -H 'content-type: application/json' -d '{"status":500,"times":3}'`,
  ].join("\n");
}

const stop = () => {
  setTimeout(() => process.exit(1), 10_000).unref();
  stack.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
