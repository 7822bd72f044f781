// MTA-STS (RFC 8461) in direct delivery against a receiving MTA we did not write: Debian's Postfix,
// as an instance of the test's own (postfix-instance.ts: `postfix -c <dir>`, listening with
// STARTTLS on 127.0.0.8 only, relaying to smtp-sink), so the system Postfix other e2e files
// configure is left alone. Its certificate comes from a test CA made at run time; the bridge
// (in-process, startBridge) trusts that CA, resolves mx.sts-e2e.test to 127.0.0.8 through an
// injected resolver, and fetches policies from a local HTTPS server (SMTP_MTA_STS_PORT).
//
// A bridge is started for each case: a pooled session from one case must not carry the next
// (a Postfix reload does not end sessions already open), and each case reads its own metrics.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import type { SmtpResolver } from "../../bridge/src/smtp/dns.ts";
import type { TlsSession } from "../../bridge/src/smtp/send.ts";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { issueCertificate, makeCa, type TestCa } from "./fixtures/tls.ts";
import { startPostfixInstance, type PostfixInstance } from "./postfix-instance.ts";
import { dnsError, signedPost, smtpItem, testConfig } from "./smtp-fixture.ts";
import { waitFor } from "../wait.ts";

const MX_HOST = "mx.sts-e2e.test";
const MX_IP = "127.0.0.8";
const OTHER_NAME = "mail.elsewhere.test";
const POLICY_IP = "127.0.0.9";
/** Where the bridge's connections to 127.0.0.8 come from (Linux picks 127.0.0.1); the test's own STARTTLS probe uses PROBE_ADDRESS. */
const BRIDGE_IP = "127.0.0.1";
const DOMAINS = { enforce: "enforce.sts-e2e.test", testing: "testing.sts-e2e.test" } as const;

const policyFile = (mode: string) => ["version: STSv1", `mode: ${mode}`, `mx: ${MX_HOST}`, "max_age: 86400"].join("\r\n");
const policies = new Map<string, string>([
  [DOMAINS.enforce, policyFile("enforce")],
  [DOMAINS.testing, policyFile("testing")],
]);

const resolver: SmtpResolver = {
  async resolveMx(domain) {
    if (!policies.has(domain)) throw dnsError("ENOTFOUND");
    return [{ exchange: MX_HOST, priority: 10 }];
  },
  async resolveAddresses(host) {
    if (host === MX_HOST) return [MX_IP];
    if (host.startsWith("mta-sts.") && policies.has(host.slice("mta-sts.".length))) return [POLICY_IP];
    throw dnsError("ENOTFOUND");
  },
  async resolveTxt(name) {
    const domain = name.replace(/^_mta-sts\./, "");
    if (!policies.has(domain)) throw dnsError("ENOTFOUND");
    return [`v=STSv1; id=e2e${domain.split(".")[0]};`];
  },
};

let ca: TestCa;
let postfix: PostfixInstance;
let policyServer: Server;
let bridge: Bridge;
/** What the bridge reported of its TLS sessions (onTlsSession's payload, via its log). */
let sessions: TlsSession[] = [];

beforeAll(async () => {
  ca = makeCa();
  postfix = await startPostfixInstance({
    address: MX_IP,
    myhostname: MX_HOST,
    certificate: issueCertificate(ca, [MX_HOST]),
    names: [MX_HOST],
  });
  const policyCert = issueCertificate(
    ca,
    Object.values(DOMAINS).map((d) => `mta-sts.${d}`),
  );
  policyServer = createServer({ key: policyCert.key, cert: policyCert.cert }, (req, res) => {
    const domain = (req.headers.host ?? "").replace(/^mta-sts\./, "").replace(/:\d+$/, "");
    const body = req.url === "/.well-known/mta-sts.txt" ? policies.get(domain) : undefined;
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(body);
  });
  await new Promise<void>((resolve) => policyServer.listen(0, POLICY_IP, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => (policyServer ? policyServer.close(resolve) : resolve(undefined)));
  await postfix?.stop();
});

beforeEach(async () => {
  sessions = [];
  const config = testConfig({
    directPort: postfix.port,
    ca: ca.cert,
    mtaStsPort: (policyServer.address() as AddressInfo).port,
  });
  bridge = await startBridge(config, { smtpResolver: resolver, log: sessionLog() });
});

afterEach(async () => {
  await bridge?.close();
});

/**
 * The bridge's logger, at warn, keeping what its onTlsSession logs on a failed session
 * ("mta-sts: a session failed its policy's checks", with the TlsSession's fields).
 */
function sessionLog() {
  return pino(
    { level: "warn" },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as TlsSession & { msg?: string };
        if (entry.msg?.startsWith("mta-sts: a session failed")) sessions.push(entry);
      },
    },
  );
}

async function deliver(rcptTo: string): Promise<{ id: string; result: BatchResults["results"][number] }> {
  const item = smtpItem({ rcptTo, relay: { mode: "direct" } });
  const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
  expect(res.status).toBe(200);
  return { id: item.id as string, result: batchResults.parse(await res.json()).results[0]! };
}

/** A line of Postfix's log about a session from the bridge (not from the test's STARTTLS probe). */
const bridgeLine = (line: string) => line.includes(`[${BRIDGE_IP}]`);
/** The bridge's sessions Postfix has logged opening and not yet closing. */
const bridgeSessionsOpen = () => {
  const lines = postfix.log().split("\n").filter(bridgeLine);
  return lines.filter((l) => / connect from /.test(l)).length - lines.filter((l) => / disconnect from /.test(l)).length;
};

/** The bridge's bridge_smtp_tls_sessions_total, as "mode/result" → count. */
async function tlsSessions(): Promise<Record<string, number>> {
  const values = (await bridge.metrics.tlsSessions.get()).values;
  return Object.fromEntries(values.map((v) => [`${v.labels.mode}/${v.labels.result}`, v.value]));
}

/** The message as smtp-sink dumped it, found by the envelope sender the bridge used (bounce+<id>@…). */
const atSink = (id: string) =>
  waitFor(
    () => postfix.sunk().find((f) => f.text.includes(`X-Mail-Args: <bounce+${id}@`)),
    `message ${id} at smtp-sink, relayed by Postfix`,
  );

/** Postfix's Received header, unfolded (smtp-sink adds one of its own above it). */
const receivedByPostfix = (text: string) =>
  (text.match(/^Received: [^\n]*(?:\n[ \t][^\n]*)*/gm) ?? [])
    .map((h) => h.replace(/\r?\n[ \t]+/g, " "))
    .find((h) => h.includes("(Postfix)")) ?? "";

describe("enforce, Postfix's certificate names the MX host", () => {
  it("accepted by Postfix over verified TLS: its Received header and its log both say TLS", async () => {
    const { id, result } = await deliver("alice@enforce.sts-e2e.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX_HOST, smtpCode: 250 } });
    // Postfix's queue id, from its "250 2.0.0 Ok: queued as …".
    const queueId = (result.detail as { providerMessageId?: string }).providerMessageId;
    expect(queueId).toMatch(/^[0-9A-Za-z]{6,}$/);
    const dumped = await atSink(id);
    expect(dumped.text).toMatch(/X-Rcpt-Args: <alice@enforce\.sts-e2e\.test>/);
    const received = receivedByPostfix(dumped.text);
    expect(received).toMatch(/\(using TLSv1\.[23] with cipher \S+/);
    expect(received).toContain(`by ${MX_HOST} (Postfix) with ESMTPS id ${queueId}`);
    // Postfix's own log (smtpd_tls_loglevel = 1): the smtpd that queued it had set up TLS with the bridge.
    const pid = await waitFor(
      () => new RegExp(`postfix/smtpd\\[(\\d+)\\]: ${queueId}: client=\\S+\\[${BRIDGE_IP}\\]`).exec(postfix.log())?.[1],
      "Postfix logging the bridge's session",
    );
    expect(postfix.log()).toMatch(
      new RegExp(`postfix/smtpd\\[${pid}\\]: \\w+ TLS connection established from \\S+\\[${BRIDGE_IP}\\]: TLSv1\\.[23]`),
    );
    expect(await tlsSessions()).toEqual({ "enforce/success": 1 });
    expect(sessions).toEqual([]);
  });
});

describe("Postfix re-issued a certificate for another name (reloaded)", () => {
  beforeAll(async () => {
    // The first case's session (its bridge is closed) has ended in Postfix's log too, so what
    // the log says from here on is this describe's.
    await waitFor(
      () => bridgeSessionsOpen() === 0,
      () => `Postfix to log the end of the bridge's sessions (${bridgeSessionsOpen()} open)`,
    );
    await postfix.setCertificate(issueCertificate(ca, [OTHER_NAME]), [OTHER_NAME]);
  });

  it("enforce: retry (mta_sts, certificate-host-mismatch), and no transaction reached Postfix", async () => {
    const logBefore = postfix.log().length;
    const { result } = await deliver("bob@enforce.sts-e2e.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "mta_sts", remoteMta: MX_HOST } });
    expect(await tlsSessions()).toEqual({ "enforce/certificate-host-mismatch": 1 });
    expect(sessions).toMatchObject([
      { domain: DOMAINS.enforce, mode: "enforce", mxHost: MX_HOST, receivingIp: MX_IP, result: "certificate-host-mismatch" },
    ]);
    // Postfix saw the session end inside the TLS handshake (the bridge refused the certificate and
    // hung up): "SSL_accept error", then its summary line with STARTTLS failed and no MAIL, RCPT or DATA.
    const ended = await waitFor(
      () =>
        postfix
          .log()
          .slice(logBefore)
          .split("\n")
          .find((l) => bridgeLine(l) && / disconnect from /.test(l)),
      "Postfix logging the end of the bridge's session",
    );
    expect(ended).toMatch(/ ehlo=1 starttls=0\/1 commands=1\/2$/);
    expect(postfix.log().slice(logBefore)).toMatch(new RegExp(`SSL_accept error from \\S+\\[${BRIDGE_IP}\\]`));
    const logged = postfix.log().slice(logBefore);
    expect(logged).not.toContain("bob@enforce.sts-e2e.test");
    expect(logged).not.toMatch(/: client=/); // no queue file was opened for a message
  });

  it("testing: delivered all the same, and the session reported as certificate-host-mismatch", async () => {
    const { id, result } = await deliver("carol@testing.sts-e2e.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX_HOST, smtpCode: 250 } });
    const dumped = await atSink(id);
    expect(dumped.text).toMatch(/X-Rcpt-Args: <carol@testing\.sts-e2e\.test>/);
    // Opportunistic TLS still: the message crossed encrypted, only not to a verified name.
    expect(receivedByPostfix(dumped.text)).toMatch(/\(using TLSv1\.[23] with cipher /);
    expect(await tlsSessions()).toEqual({ "testing/certificate-host-mismatch": 1 });
    expect(sessions).toMatchObject([{ domain: DOMAINS.testing, mode: "testing", mxHost: MX_HOST, result: "certificate-host-mismatch" }]);
    // And bob's message from the enforce case never reached the sink (his case only ever got as far as STARTTLS).
    expect(postfix.sunk().filter((f) => f.text.includes("bob@enforce.sts-e2e.test"))).toEqual([]);
  });
});
