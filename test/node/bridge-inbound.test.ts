// The inbound SMTP server (bounce domains' MX) end to end: a real SMTP client (nodemailer's
// smtp-connection) talks to the bridge started in-process, and a fake edge (node:http) checks the
// Standard Webhooks signature of each POST /v1/inbound/email with `verify` from src/core and
// answers as the test says (202, 422 not_ours, 500, or never). It proves that the message's exact
// bytes reach the edge, that the sender hears 250 only after the edge answered 2xx, that every
// other edge answer (or none) is a 451 the sender retries, and the envelope, size, STARTTLS,
// shutdown and configuration rules.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { ConfigError, loadConfig, type Config, type InboundConfig } from "../../bridge/src/config.ts";
import { EDGE_EMAIL_INBOUND_PATH } from "../../src/core/bridge.ts";
import { freePort, probePort } from "../../sandbox/ports.ts";
import { waitFor } from "../wait.ts";
import { runBridgeToExit } from "./fixtures/bridge-process.ts";
import { startFakeEdge, type EdgeRequest, type FakeEdge } from "./fixtures/fake-edge.ts";
import { makeCertificate, SECRET, testConfig } from "./smtp-fixture.ts";

const DOMAIN = "bounces.test";
const MAX_BYTES = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The fake edge (fixtures/fake-edge.ts): what it got, as the bridge posts it

type Posted = { to: string; from: string; raw: string };
const startEdge = () => startFakeEdge<Posted>();

/** The message bytes the bridge forwarded (base64 in the JSON body). */
const rawOf = (request: EdgeRequest<Posted>) => Buffer.from(request.json.raw, "base64");

function inboundConfig(edgeUrl: string, overrides: Partial<InboundConfig> = {}): Config {
  return {
    ...testConfig(),
    inbound: { host: "127.0.0.1", port: 0, domains: [DOMAIN], edgeUrl, maxBytes: MAX_BYTES, edgeTimeoutMs: 1_000, ...overrides },
  };
}

// ---------------------------------------------------------------------------------------------
// The sending MTA

type SendResult = {
  ok: boolean;
  /** The last reply: 250 … after DATA, or the refusal. */
  response: string;
  responseCode?: number;
  command?: string;
  code?: string;
  accepted: string[];
  rejected: string[];
  secure: boolean;
  /** performance.now() when the answer came back. */
  at: number;
};

async function sendMail(
  port: number,
  message: Buffer | string,
  envelope: { from: string; to: string[]; size?: number },
  tls: { requireTLS?: boolean; ca?: string } = {},
): Promise<SendResult> {
  const connection = new SMTPConnection({
    host: "127.0.0.1",
    port,
    name: "mta.sender.test",
    secure: false,
    requireTLS: tls.requireTLS ?? false,
    ignoreTLS: !tls.requireTLS,
    ...(tls.ca ? { tls: { ca: [tls.ca], servername: "localhost" } } : {}),
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
    logger: false,
  });
  connection.on("error", () => {}); // reported through the callbacks
  try {
    await new Promise<void>((resolve, reject) => connection.connect((error?: Error) => (error ? reject(error) : resolve())));
    return await new Promise<SendResult>((resolve) => {
      const data = typeof message === "string" ? Buffer.from(message, "utf8") : message;
      connection.send({ ...envelope, use8BitMime: data.some((b) => b > 0x7f) }, data, (error, info) => {
        const at = performance.now();
        const secure = connection.secure;
        if (error) {
          const e = error as Error & { response?: string; responseCode?: number; command?: string; code?: string; rejected?: string[] };
          resolve({
            ok: false,
            response: e.response ?? e.message,
            responseCode: e.responseCode,
            command: e.command,
            code: e.code,
            accepted: [],
            rejected: e.rejected ?? [],
            secure,
            at,
          });
        } else {
          resolve({
            ok: true,
            response: info.response,
            responseCode: Number(info.response.slice(0, 3)),
            accepted: info.accepted.map(String),
            rejected: info.rejected.map(String),
            secure,
            at,
          });
        }
      });
    });
  } finally {
    connection.quit();
    connection.close();
  }
}

/** A raw SMTP dialogue: sends each line after the previous reply, returns every reply (greeting first). */
async function dialogue(port: number, lines: string[]): Promise<string[]> {
  const socket: Socket = connect(port, "127.0.0.1");
  let buffer = "";
  const replies: string[] = [];
  const waiting: Array<(reply: string) => void> = [];
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("latin1");
    // A reply ends at a line "NNN text" (a space after the code, not a dash).
    for (;;) {
      const match = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n)/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[1]!.length);
      const reply = match[1]!.trimEnd();
      const wake = waiting.shift();
      if (wake) wake(reply);
      else replies.push(reply);
    }
  });
  const next = () => (replies.length > 0 ? Promise.resolve(replies.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)));
  const out = [await next()];
  for (const line of lines) {
    socket.write(`${line}\r\n`);
    out.push(await next());
  }
  socket.destroy();
  return out;
}

/**
 * Several senders whose transactions end together: each connection gets as far as the message
 * body, then every final "." is written in the same tick. Returns each one's reply to it.
 */
async function endTogether(port: number, messages: Array<{ to: string; raw: string }>): Promise<string[]> {
  const sessions = await Promise.all(
    messages.map(async ({ to, raw }) => {
      const socket: Socket = connect(port, "127.0.0.1");
      let buffer = "";
      const waiting: Array<(reply: string) => void> = [];
      socket.on("data", (chunk: Buffer) => {
        buffer += chunk.toString("latin1");
        for (;;) {
          const match = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n)/.exec(buffer);
          if (!match) break;
          buffer = buffer.slice(match[1]!.length);
          waiting.shift()?.(match[1]!.trimEnd());
        }
      });
      const reply = () => new Promise<string>((resolve) => waiting.push(resolve));
      const say = (line: string) => {
        const next = reply();
        socket.write(`${line}\r\n`);
        return next;
      };
      await reply(); // greeting
      for (const line of ["EHLO mta.sender.test", "MAIL FROM:<>", `RCPT TO:<${to}>`]) expect(await say(line)).toMatch(/^250/);
      expect(await say("DATA")).toMatch(/^354/);
      socket.write(raw.endsWith("\r\n") ? raw : `${raw}\r\n`);
      return { socket, say };
    }),
  );
  try {
    return await Promise.all(sessions.map((s) => s.say(".")));
  } finally {
    for (const s of sessions) s.socket.destroy();
  }
}

/** A DSN as an MTA writes it (RFC 3464), with 8-bit and non-UTF-8 bytes and a dot-stuffed line. */
function dsn(rcpt: string): Buffer {
  const head = [
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
    `To: <${rcpt}>`,
    "Subject: Undelivered Mail Returned to Sender",
    "Date: Tue, 03 Nov 2026 10:00:00 +0000",
    `Message-ID: <${randomUUID()}@mx.example.net>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "Content-Transfer-Encoding: 8bit",
    "",
    "--B",
    "Content-Type: text/plain; charset=iso-8859-1",
    "Content-Transfer-Encoding: 8bit",
    "",
  ].join("\r\n");
  // "Grüße, Straße" in Latin-1 (not valid UTF-8), UTF-8 "é", a lone 0xFF, a C1 byte, a dot line.
  const body = Buffer.concat([
    Buffer.from("\r\nGr\xfc\xdfe, Stra\xdfe: \xff \x85 ", "latin1"),
    Buffer.from("caf\u00e9 \u2713\r\n", "utf8"),
    Buffer.from(".a line that starts with a dot\r\n..and one with two\r\n", "latin1"),
  ]);
  const status = [
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.net",
    "",
    "Final-Recipient: rfc822; alice@example.net",
    "Action: failed",
    "Status: 5.1.1",
    "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown",
    "",
    "--B--",
    "",
  ].join("\r\n");
  return Buffer.concat([Buffer.from(head, "latin1"), body, Buffer.from(status, "latin1")]);
}

const bounceAddress = () => `bounce+${randomUUID()}@${DOMAIN}`;

async function metricsText(bridge: Bridge): Promise<string> {
  return (await fetch(`${bridge.url}/metrics`)).text();
}

function metricValue(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

// ---------------------------------------------------------------------------------------------

describe("inbound SMTP → edge", () => {
  let edge: FakeEdge<Posted>;
  let bridge: Bridge;
  let port: number;

  beforeAll(async () => {
    edge = await startEdge();
    bridge = await startBridge(inboundConfig(edge.url));
    port = bridge.inbound!.port;
  });
  afterAll(async () => {
    await bridge?.close();
    await edge?.close();
  });
  beforeEach(() => {
    edge.requests.length = 0;
    edge.mode = "accept";
    edge.delayMs = 0;
  });

  it("a DSN from the null sender reaches the edge as signed JSON with the exact bytes; 250 only after the edge answered", async () => {
    const rcpt = bounceAddress();
    const message = dsn(rcpt);
    edge.delayMs = 500;
    const started = performance.now();
    const result = await sendMail(port, message, { from: "", to: [rcpt] });

    expect(result.ok).toBe(true);
    expect(result.response).toBe("250 2.0.0 Ok: handed to lasthop");
    expect(edge.requests).toHaveLength(1);
    const request = edge.requests[0]!;
    expect(request.path).toBe(EDGE_EMAIL_INBOUND_PATH);
    expect(request.verified).toBe(true);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(Object.keys(request.json).sort()).toEqual(["from", "raw", "to"]);
    expect(request.json).toMatchObject({ to: rcpt, from: "" });
    // Byte for byte, 8-bit and non-UTF-8 included (and dot-unstuffed back to what was sent).
    expect(rawOf(request).equals(message)).toBe(true);
    expect(message.toString("utf8")).toContain("\ufffd"); // the message really is not UTF-8
    // The sender heard 250 after the edge answered, which took the edge's 500 ms.
    expect(request.answeredAt).toBeDefined();
    expect(result.at).toBeGreaterThanOrEqual(request.answeredAt!);
    expect(result.at - started).toBeGreaterThanOrEqual(500);

    const metrics = await metricsText(bridge);
    expect(metricValue(metrics, 'bridge_inbound_messages_total{outcome="accepted"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'bridge_inbound_bytes_total{outcome="accepted"}')).toBeGreaterThanOrEqual(message.length);
  });

  it("a reply from a real sender: MAIL FROM is passed on, the domain matches case-insensitively", async () => {
    const rcpt = `bounce+${randomUUID()}@Bounces.TEST`;
    const result = await sendMail(port, "Subject: Re: hello\r\n\r\nthanks\r\n", { from: "alice@example.net", to: [rcpt] });
    expect(result.response).toBe("250 2.0.0 Ok: handed to lasthop");
    expect(edge.requests.map((r) => r.json.to)).toEqual([rcpt]);
    expect(edge.requests[0]!.json.from).toBe("alice@example.net");
    expect(rawOf(edge.requests[0]!).toString("utf8")).toBe("Subject: Re: hello\r\n\r\nthanks\r\n");
  });

  it("a recipient outside INBOUND_DOMAINS gets 550 at RCPT, and nothing is posted", async () => {
    const result = await sendMail(port, dsn("x@elsewhere.test"), { from: "", to: ["postmaster@elsewhere.test"] });
    expect(result.ok).toBe(false);
    expect(result.command).toBe("RCPT TO");
    expect(result.response).toBe("550 5.1.1 <postmaster@elsewhere.test>: Recipient address rejected: not a bounce address here");
    // A subdomain of a bounce domain is not a bounce domain.
    const sub = await sendMail(port, "x\r\n", { from: "", to: [`bounce+1@mx.${DOMAIN}`] });
    expect(sub.response).toMatch(/^550 5\.1\.1 /);
    expect(edge.requests).toHaveLength(0);
    expect(metricValue(await metricsText(bridge), 'bridge_inbound_rcpt_refused_total{reason="domain"}')).toBeGreaterThanOrEqual(2);
  });

  it("a mixed envelope: the outside recipient is refused at RCPT, the message goes to the edge for the bounce address only", async () => {
    const rcpt = bounceAddress();
    const result = await sendMail(port, "Subject: x\r\n\r\ny\r\n", { from: "", to: ["someone@elsewhere.test", rcpt] });
    expect(result.ok).toBe(true);
    expect(result.rejected).toEqual(["someone@elsewhere.test"]);
    expect(edge.requests.map((r) => r.json.to)).toEqual([rcpt]);
  });

  it("edge 500 → 451 (the sender keeps the message); redelivered once the edge answers 202 → 250", async () => {
    const rcpt = bounceAddress();
    const message = dsn(rcpt);
    edge.mode = "fail";
    const first = await sendMail(port, message, { from: "", to: [rcpt] });
    expect(first.ok).toBe(false);
    expect(first.responseCode).toBe(451);
    expect(first.response).toBe("451 4.3.0 Temporary failure, try again later");
    expect(edge.requests).toHaveLength(1);

    edge.mode = "accept";
    const second = await sendMail(port, message, { from: "", to: [rcpt] });
    expect(second.response).toBe("250 2.0.0 Ok: handed to lasthop");
    expect(edge.requests).toHaveLength(2);
    expect(edge.requests.every((r) => r.verified && rawOf(r).equals(message))).toBe(true);
    expect(metricValue(await metricsText(bridge), 'bridge_inbound_messages_total{outcome="deferred"}')).toBeGreaterThanOrEqual(1);
  });

  it("other edge answers are temporary too: 401, 400, 422 with another code, a redirect", async () => {
    for (const mode of [
      { status: 401, body: { error: { code: "unauthorized" } } },
      { status: 400, body: { error: { code: "invalid_request" } } },
      { status: 422, body: { error: { code: "something_else" } } },
      { status: 302, body: {} },
    ]) {
      edge.mode = mode;
      const result = await sendMail(port, "x\r\n", { from: "", to: [bounceAddress()] });
      expect(result.response, `edge ${mode.status}`).toBe("451 4.3.0 Temporary failure, try again later");
    }
  });

  it("an edge that does not answer within INBOUND_EDGE_TIMEOUT_MS → 451", async () => {
    edge.mode = "hang";
    const started = performance.now();
    const result = await sendMail(port, "x\r\n", { from: "", to: [bounceAddress()] });
    expect(result.response).toBe("451 4.3.0 Temporary failure, try again later");
    expect(result.at - started).toBeGreaterThanOrEqual(1_000); // edgeTimeoutMs in this bridge
    expect(edge.requests).toHaveLength(1);
  });

  it("edge 422 not_ours → 550 after DATA", async () => {
    const rcpt = bounceAddress();
    edge.mode = "not_ours";
    const result = await sendMail(port, dsn(rcpt), { from: "", to: [rcpt] });
    expect(result.ok).toBe(false);
    expect(result.responseCode).toBe(550);
    expect(result.response).toBe(`550 5.1.1 <${rcpt}>: Recipient address rejected`);
    expect(edge.requests).toHaveLength(1);
  });

  it("a message over INBOUND_MAX_BYTES → 552 5.3.4 after DATA, and nothing is posted", async () => {
    const big = Buffer.concat([Buffer.from("Subject: big\r\n\r\n"), Buffer.from(`${"x".repeat(998)}\r\n`.repeat(80))]);
    expect(big.length).toBeGreaterThan(MAX_BYTES);
    const result = await sendMail(port, big, { from: "", to: [bounceAddress()] });
    expect(result.ok).toBe(false);
    expect(result.response).toBe(`552 5.3.4 Message size exceeds fixed maximum message size (${MAX_BYTES} bytes)`);
    expect(edge.requests).toHaveLength(0);
    expect(metricValue(await metricsText(bridge), 'bridge_inbound_messages_total{outcome="too_large"}')).toBeGreaterThanOrEqual(1);
    // Nothing is held against the sender: the next (smaller) message goes through.
    expect((await sendMail(port, "x\r\n", { from: "", to: [bounceAddress()] })).response).toBe("250 2.0.0 Ok: handed to lasthop");
  });

  it("SIZE is advertised; a declared SIZE over the cap is refused at MAIL FROM", async () => {
    const replies = await dialogue(port, ["EHLO mta.sender.test", `MAIL FROM:<> SIZE=${MAX_BYTES + 1}`, "QUIT"]);
    expect(replies[1]).toMatch(new RegExp(`^250[- ]SIZE ${MAX_BYTES}$`, "m"));
    expect(replies[1]).not.toMatch(/STARTTLS|AUTH/); // no certificate configured here, and no AUTH ever
    expect(replies[2]).toBe(`552 Error: message exceeds fixed maximum message size ${MAX_BYTES}`);
    expect(edge.requests).toHaveLength(0);
  });

  it("two recipients → one signed batch with an item each, the same bytes; one 250", async () => {
    const a = bounceAddress();
    const b = bounceAddress();
    const message = dsn(a);
    const result = await sendMail(port, message, { from: "", to: [a, b] });
    expect(result.response).toBe("250 2.0.0 Ok: handed to lasthop");
    expect(edge.requests.map((r) => r.json.to).sort()).toEqual([a, b].sort());
    expect(edge.requests.every((r) => r.verified && rawOf(r).equals(message) && r.json.from === "")).toBe(true);
    expect(new Set(edge.requests.map((r) => r.batch)).size).toBe(1);
    expect(new Set(edge.requests.map((r) => r.headers["webhook-id"])).size).toBe(1);
  });

  it("two recipients, the edge takes one and fails the other → 451 for the message", async () => {
    const a = bounceAddress();
    const b = bounceAddress();
    edge.mode = (request) => (request.json.to === b ? "fail" : "accept");
    const result = await sendMail(port, "x\r\n", { from: "", to: [a, b] });
    expect(result.response).toBe("451 4.3.0 Temporary failure, try again later");
    expect(edge.requests.map((r) => r.json.to).sort()).toEqual([a, b].sort());
  });

  it("two recipients, the edge takes one and says the other is not ours → 550 naming that one", async () => {
    const a = bounceAddress();
    const b = bounceAddress();
    edge.mode = (request) => (request.json.to === b ? "not_ours" : "accept");
    const result = await sendMail(port, "x\r\n", { from: "", to: [a, b] });
    expect(result.response).toBe(`550 5.1.1 <${b}>: Recipient address rejected`);
  });

  it("the greeting carries SMTP_HELO_NAME; AUTH is refused", async () => {
    const replies = await dialogue(port, ["EHLO mta.sender.test", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "QUIT"]);
    expect(replies[0]).toMatch(/^220 bridge\.lasthop\.test ESMTP/);
    expect(replies[2]).toMatch(/^5\d\d /);
  });
});

describe("inbound SMTP: an accepted-subdomain entry (lh-bounces.*)", () => {
  it("takes the label in front of any domain and leaves the edge to judge it; other names are refused at RCPT", async () => {
    const edge = await startEdge();
    const bridge = await startBridge(inboundConfig(edge.url, { domains: [DOMAIN, "lh-bounces.*"] }));
    try {
      const port = bridge.inbound!.port;
      const claimed = `bounce+${randomUUID()}@LH-Bounces.Customer.Example`;
      const unclaimed = `bounce+${randomUUID()}@lh-bounces.nobody.example`;
      edge.mode = (request) => (request.json.to === unclaimed ? "not_ours" : "accept");
      const ok = await sendMail(port, dsn(claimed), { from: "", to: [claimed] });
      expect(ok.ok, ok.response).toBe(true);
      expect(ok.response).toMatch(/^250 /);
      const refused = await sendMail(port, dsn(unclaimed), { from: "", to: [unclaimed] });
      expect(refused.responseCode).toBe(550);
      expect(edge.requests.map((r) => r.json.to)).toEqual([claimed, unclaimed]);

      // The label alone in front of a top-level domain, or below another label, is not it.
      for (const to of ["bounce+1@lh-bounces.com", "bounce+1@x.lh-bounces.example.com", "bounce+1@lh-bounces-x.example.com"]) {
        const result = await sendMail(port, "x\r\n", { from: "", to: [to] });
        expect(result.command, to).toBe("RCPT TO");
        expect(result.response).toMatch(/^550 5\.1\.1 /);
      }
      expect(edge.requests).toHaveLength(2);
      // The listed domain is still taken.
      expect((await sendMail(port, "x\r\n", { from: "", to: [bounceAddress()] })).ok).toBe(true);
    } finally {
      await bridge.close();
      await edge.close();
    }
  });
});

describe("inbound SMTP: messages that end together travel together", () => {
  let edge: FakeEdge<Posted>;
  let bridge: Bridge;
  let port: number;
  const plain = (to: string) => `From: MAILER-DAEMON@mx.example.net\r\nTo: ${to}\r\nSubject: DSN\r\n\r\nrecipient unknown\r\n`;

  beforeAll(async () => {
    edge = await startEdge();
    // Batches of three and a linger that never runs out here: three senders are one batch, not a race.
    bridge = await startBridge(inboundConfig(edge.url, { batch: { maxItems: 3, lingerMs: 600_000 } }));
    port = bridge.inbound!.port;
  });
  afterAll(async () => {
    await bridge?.close();
    await edge?.close();
  });
  beforeEach(() => {
    edge.requests.length = 0;
    edge.mode = "accept";
    edge.delayMs = 0;
  });

  it("one signed POST for all of them, each sender's 250 only after the edge answered it", async () => {
    const rcpts = [bounceAddress(), bounceAddress(), bounceAddress()];
    edge.delayMs = 300;
    const started = performance.now();
    const replies = await endTogether(
      port,
      rcpts.map((to) => ({ to, raw: plain(to) })),
    );
    expect(replies).toEqual(rcpts.map(() => "250 2.0.0 Ok: handed to lasthop"));
    expect(performance.now() - started).toBeGreaterThanOrEqual(300); // the edge's answer came first
    expect(edge.requests.map((r) => r.json.to).sort()).toEqual([...rcpts].sort());
    expect(new Set(edge.requests.map((r) => r.batch)).size).toBe(1);
    expect(edge.requests.every((r) => r.verified && rawOf(r).toString("latin1") === plain(r.json.to))).toBe(true);
  });

  it("the edge fails the batch → 451 to every sender in it; sent again, the edge takes them → 250 each", async () => {
    const rcpts = [bounceAddress(), bounceAddress(), bounceAddress()];
    const messages = rcpts.map((to) => ({ to, raw: plain(to) }));
    edge.mode = "fail";
    expect(await endTogether(port, messages)).toEqual(rcpts.map(() => "451 4.3.0 Temporary failure, try again later"));
    edge.mode = "accept";
    expect(await endTogether(port, messages)).toEqual(rcpts.map(() => "250 2.0.0 Ok: handed to lasthop"));
    expect(
      edge.requests
        .filter((r) => r.batch === edge.requests.at(-1)!.batch)
        .map((r) => r.json.to)
        .sort(),
    ).toEqual([...rcpts].sort());
  });

  it("one message of the batch is not ours: its sender gets 550, the others 250", async () => {
    const rcpts = [bounceAddress(), bounceAddress(), bounceAddress()];
    edge.mode = (request) => (request.json.to === rcpts[1] ? "not_ours" : "accept");
    const replies = await endTogether(
      port,
      rcpts.map((to) => ({ to, raw: plain(to) })),
    );
    expect(replies).toEqual([
      "250 2.0.0 Ok: handed to lasthop",
      `550 5.1.1 <${rcpts[1]}>: Recipient address rejected`,
      "250 2.0.0 Ok: handed to lasthop",
    ]);
    expect(new Set(edge.requests.map((r) => r.batch)).size).toBe(1);
  });

  it("an answer without a result per message is no answer: 451 to all", async () => {
    const rcpts = [bounceAddress(), bounceAddress(), bounceAddress()];
    edge.mode = { status: 202, body: { outcome: "enqueued", kind: "dsn" } }; // a single message's answer to a batch
    const replies = await endTogether(
      port,
      rcpts.map((to) => ({ to, raw: plain(to) })),
    );
    expect(replies).toEqual(rcpts.map(() => "451 4.3.0 Temporary failure, try again later"));
  });
});

describe("inbound SMTP: the edge is down", () => {
  it("connection refused → 451, nothing lost: the sender retries", async () => {
    const bridge = await startBridge(inboundConfig(`http://127.0.0.1:${await freePort()}`));
    try {
      const result = await sendMail(bridge.inbound!.port, dsn("x@y"), { from: "", to: [bounceAddress()] });
      expect(result.ok).toBe(false);
      expect(result.response).toBe("451 4.3.0 Temporary failure, try again later");
    } finally {
      await bridge.close();
    }
  });

  it("a batch while the edge is down: no sender hears 250; once it is back, each message sent again reaches it", async () => {
    const edge = await startEdge();
    const edgePort = Number(new URL(edge.url).port);
    await edge.close(); // the edge's port, with nobody listening
    const bridge = await startBridge(inboundConfig(`http://127.0.0.1:${edgePort}`, { batch: { maxItems: 3, lingerMs: 600_000 } }));
    let back: FakeEdge<Posted> | undefined;
    try {
      const rcpts = [bounceAddress(), bounceAddress(), bounceAddress()];
      const messages = rcpts.map((to) => ({ to, raw: `Subject: DSN for ${to}\r\n\r\nunknown\r\n` }));
      expect(await endTogether(bridge.inbound!.port, messages)).toEqual(rcpts.map(() => "451 4.3.0 Temporary failure, try again later"));
      back = await startFakeEdge<Posted>({ port: edgePort });
      expect(await endTogether(bridge.inbound!.port, messages)).toEqual(rcpts.map(() => "250 2.0.0 Ok: handed to lasthop"));
      // Every message a sender heard 250 for is at the edge, byte for byte.
      expect(back.requests.map((r) => [r.json.to, rawOf(r).toString("latin1")]).sort()).toEqual(messages.map((m) => [m.to, m.raw]).sort());
    } finally {
      await bridge.close();
      await back?.close();
    }
  });
});

describe("inbound SMTP: STARTTLS", () => {
  let dir: string;
  let edge: FakeEdge<Posted>;
  let cert: string;

  beforeAll(async () => {
    edge = await startEdge();
    dir = mkdtempSync(join(tmpdir(), "lasthop-inbound-"));
    const made = makeCertificate(); // openssl CLI, at test time
    cert = made.cert;
    writeFileSync(join(dir, "cert.pem"), made.cert);
    writeFileSync(join(dir, "key.pem"), made.key);
  });
  afterAll(async () => {
    await edge?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("with INBOUND_TLS_CERT_FILE and INBOUND_TLS_KEY_FILE the session upgrades, and the message goes through", async () => {
    const config = loadConfig({
      BRIDGE_SECRET: SECRET,
      BRIDGE_PORT: "0",
      LOG_LEVEL: "silent",
      INBOUND_SMTP_PORT: "0",
      INBOUND_DOMAINS: ` ${DOMAIN} , other.test `,
      EDGE_URL: edge.url,
      INBOUND_TLS_CERT_FILE: join(dir, "cert.pem"),
      INBOUND_TLS_KEY_FILE: join(dir, "key.pem"),
    });
    expect(config.inbound!.tls).toEqual({ cert, key: expect.stringContaining("PRIVATE KEY") });
    const bridge = await startBridge(config);
    try {
      const ehlo = await dialogue(bridge.inbound!.port, ["EHLO mta.sender.test", "QUIT"]);
      expect(ehlo[1]).toMatch(/^250[- ]STARTTLS$/m);
      const rcpt = `bounce+${randomUUID()}@other.test`;
      const message = dsn(rcpt);
      const result = await sendMail(bridge.inbound!.port, message, { from: "", to: [rcpt] }, { requireTLS: true, ca: cert });
      expect(result.secure).toBe(true);
      expect(result.response).toBe("250 2.0.0 Ok: handed to lasthop");
      expect(rawOf(edge.requests.at(-1)!).equals(message)).toBe(true);
    } finally {
      await bridge.close();
    }
  });
});

describe("inbound SMTP: graceful shutdown", () => {
  it("close() stops accepting at once, lets the message in flight get the edge's answer, then the port is closed", async () => {
    const edge = await startEdge();
    const bridge = await startBridge(inboundConfig(edge.url));
    const port = bridge.inbound!.port;
    try {
      edge.delayMs = 500;
      const sending = sendMail(port, "x\r\n", { from: "", to: [bounceAddress()] });
      await edge.waitFor(1); // the message is at the edge, which takes its time to answer
      const closing = bridge.close();
      const result = await sending;
      expect(result.response).toBe("250 2.0.0 Ok: handed to lasthop");
      await closing;
      expect(await probePort(port)).toBe("ECONNREFUSED");
    } finally {
      await bridge.close();
      await edge.close();
    }
  });
  it("an idle session gets 421 at close(), which does not wait for it", async () => {
    const edge = await startEdge();
    const bridge = await startBridge(inboundConfig(edge.url)); // shutdownTimeoutMs 5 s
    try {
      const socket = connect(bridge.inbound!.port, "127.0.0.1");
      let heard = "";
      socket.on("data", (chunk: Buffer) => (heard += chunk.toString("latin1")));
      const ended = once(socket, "close");
      await waitFor(() => heard.startsWith("220 "), "the greeting");
      const started = performance.now();
      await bridge.close();
      await ended;
      expect(performance.now() - started).toBeLessThan(4_000); // it did not wait out the 5 s shutdown timeout (slack for a busy machine)
      expect(heard).toMatch(/\r\n421 4\.3\.2 Service shutting down, try again later\r\n$/);
    } finally {
      await bridge.close();
      await edge.close();
    }
  });
});

describe("inbound SMTP configuration", () => {
  const base = { BRIDGE_SECRET: SECRET };

  function problem(env: Record<string, string | undefined>): string {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error("configuration was accepted");
  }

  let dir: string;
  let certFile: string;
  let keyFile: string;
  let otherKeyFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lasthop-inbound-config-"));
    const one = makeCertificate();
    const two = makeCertificate();
    certFile = join(dir, "cert.pem");
    keyFile = join(dir, "key.pem");
    otherKeyFile = join(dir, "other-key.pem");
    writeFileSync(certFile, one.cert);
    writeFileSync(keyFile, one.key);
    writeFileSync(otherKeyFile, two.key);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("off unless INBOUND_DOMAINS and EDGE_URL are both set (empty counts as unset)", () => {
    expect(loadConfig(base).inbound).toBeUndefined();
    expect("inbound" in loadConfig(base)).toBe(false);
    expect(loadConfig({ ...base, INBOUND_DOMAINS: "", EDGE_URL: " ", INBOUND_SMTP_PORT: "2600" }).inbound).toBeUndefined();
  });

  it("defaults: the bridge's host, port 2526, 10 MiB, 15 s; domains lower-cased; EDGE_URL as an origin", () => {
    const config = loadConfig({
      ...base,
      BRIDGE_HOST: "0.0.0.0",
      INBOUND_DOMAINS: "Bounces.Example.com,bounces.example.com., b.example.org, LH-Bounces.*",
      EDGE_URL: "http://127.0.0.1:8787/",
    });
    expect(config.inbound).toEqual({
      host: "0.0.0.0",
      port: 2526,
      domains: ["bounces.example.com", "b.example.org", "lh-bounces.*"],
      edgeUrl: "http://127.0.0.1:8787",
      maxBytes: 10 * 1024 * 1024,
      edgeTimeoutMs: 15_000,
    });
  });

  it("reads every INBOUND_* variable", () => {
    const config = loadConfig({
      ...base,
      INBOUND_DOMAINS: "bounces.example.com",
      EDGE_URL: "https://lasthop.example.workers.dev",
      INBOUND_SMTP_HOST: "::",
      INBOUND_SMTP_PORT: "25",
      INBOUND_MAX_BYTES: "5000000",
      INBOUND_EDGE_TIMEOUT_MS: "30000",
      INBOUND_TLS_CERT_FILE: certFile,
      INBOUND_TLS_KEY_FILE: keyFile,
    });
    expect(config.inbound).toMatchObject({
      host: "::",
      port: 25,
      maxBytes: 5_000_000,
      edgeTimeoutMs: 30_000,
      edgeUrl: "https://lasthop.example.workers.dev",
    });
    expect(config.inbound!.tls!.cert).toContain("BEGIN CERTIFICATE");
  });

  it("a partial set names the missing variable", () => {
    const missing = "is missing: the inbound SMTP server needs INBOUND_DOMAINS and EDGE_URL together";
    expect(problem({ INBOUND_DOMAINS: DOMAIN })).toBe(`EDGE_URL ${missing}`);
    expect(problem({ EDGE_URL: "http://127.0.0.1:8787" })).toBe(`INBOUND_DOMAINS ${missing}`);
    expect(problem({ INBOUND_TLS_CERT_FILE: certFile, INBOUND_TLS_KEY_FILE: keyFile })).toBe(`INBOUND_DOMAINS ${missing}`);
    const full = { INBOUND_DOMAINS: DOMAIN, EDGE_URL: "http://127.0.0.1:8787" };
    expect(problem({ ...full, INBOUND_TLS_CERT_FILE: certFile })).toBe(
      "INBOUND_TLS_KEY_FILE is missing: STARTTLS needs INBOUND_TLS_CERT_FILE and INBOUND_TLS_KEY_FILE together",
    );
    expect(problem({ ...full, INBOUND_TLS_KEY_FILE: keyFile })).toBe(
      "INBOUND_TLS_CERT_FILE is missing: STARTTLS needs INBOUND_TLS_CERT_FILE and INBOUND_TLS_KEY_FILE together",
    );
  });

  it("bad values name their variable", () => {
    const full = { INBOUND_DOMAINS: DOMAIN, EDGE_URL: "http://127.0.0.1:8787" };
    expect(problem({ ...full, INBOUND_DOMAINS: "bounces.example.com, not a domain" })).toBe(
      "INBOUND_DOMAINS must be a comma-separated list of domain names such as bounces.example.com, or a label then .* such as lh-bounces.*",
    );
    expect(problem({ ...full, INBOUND_DOMAINS: "localhost" })).toMatch(/^INBOUND_DOMAINS must be/);
    for (const bad of ["*", "*.example.com", "lh-bounces.*.com", "lh.bounces.*", "-x.*", "lh_bounces.*"]) {
      expect(problem({ ...full, INBOUND_DOMAINS: `bounces.example.com,${bad}` }), bad).toMatch(/^INBOUND_DOMAINS must be/);
    }
    expect(problem({ ...full, EDGE_URL: "ftp://edge.example.com" })).toMatch(/^EDGE_URL must be the Worker's http\(s\) origin/);
    expect(problem({ ...full, EDGE_URL: "https://edge.example.com/v1" })).toMatch(/^EDGE_URL must be/);
    expect(problem({ ...full, INBOUND_SMTP_PORT: "70000" })).toBe("INBOUND_SMTP_PORT must be between 0 and 65535");
    expect(problem({ ...full, INBOUND_MAX_BYTES: "10" })).toBe("INBOUND_MAX_BYTES must be between 1024 and 67108864");
    expect(problem({ ...full, INBOUND_EDGE_TIMEOUT_MS: "soon" })).toBe(
      "INBOUND_EDGE_TIMEOUT_MS must be a whole number between 1000 and 600000",
    );
    expect(problem({ ...full, INBOUND_TLS_CERT_FILE: "/nonexistent/cert.pem", INBOUND_TLS_KEY_FILE: keyFile })).toBe(
      "INBOUND_TLS_CERT_FILE cannot be read (/nonexistent/cert.pem): ENOENT",
    );
    expect(problem({ ...full, INBOUND_TLS_CERT_FILE: keyFile, INBOUND_TLS_KEY_FILE: keyFile })).toBe(
      `INBOUND_TLS_CERT_FILE must hold a PEM certificate (${keyFile})`,
    );
    expect(problem({ ...full, INBOUND_TLS_CERT_FILE: certFile, INBOUND_TLS_KEY_FILE: certFile })).toBe(
      `INBOUND_TLS_KEY_FILE must hold a PEM private key (${certFile})`,
    );
    expect(problem({ ...full, INBOUND_TLS_CERT_FILE: certFile, INBOUND_TLS_KEY_FILE: otherKeyFile })).toBe(
      `INBOUND_TLS_KEY_FILE is not the key of the certificate in INBOUND_TLS_CERT_FILE (${otherKeyFile})`,
    );
  });

  it("the process: a partial set → exit 1 and one line on stderr naming the variable", async () => {
    const { code, stdout, stderr } = await runBridgeToExit({ BRIDGE_SECRET: SECRET, BRIDGE_PORT: "0", INBOUND_DOMAINS: DOMAIN });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      "bridge: invalid configuration: EDGE_URL is missing: the inbound SMTP server needs INBOUND_DOMAINS and EDGE_URL together",
    ]);
  });
});
