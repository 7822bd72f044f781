// The sandbox receiving MTA checked with an independent client: nodemailer's SMTP connection
// (what a Node sender would use) and, for what nodemailer will not send, a raw socket. Nothing
// from src/ or bridge/.
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor, within } from "../wait.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type SendInfo = { accepted: string[]; rejected: string[]; response: string; ehlo?: string[] };
type SmtpFailure = Error & {
  code?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: Array<{ responseCode?: number; response?: string }>;
};
type Envelope = { mailFrom: string; rcptTo: string[]; tls: boolean; authUser?: string; queueId?: string; helo: string };
type EmailEntry = { channel: string; to: string; at: string; status: number; outcome: string; headers: Envelope; payload: string | null };
type Stats = { sessions: number; sessionsOpened: number; messages: number };

const CLIENT_NAME = "mta-client.test";
const FROM = "sender@example.com";

let sandbox: TestSandbox;
let ca: Buffer;
const open: SMTPConnection[] = [];

beforeAll(async () => {
  sandbox = await startTestSandbox();
  ca = readFileSync(sandbox.caPath);
});

afterAll(async () => {
  for (const connection of open) connection.close();
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

async function received(target: TestSandbox = sandbox): Promise<EmailEntry[]> {
  const res = await control(target, "GET", "/_sandbox/received?channel=email");
  expect(res.status).toBe(200);
  return (await res.json()) as EmailEntry[];
}

async function stats(target: TestSandbox = sandbox): Promise<Stats> {
  return (await (await control(target, "GET", "/_sandbox/smtp/stats")).json()) as Stats;
}

type ConnectOptions = { tls?: "none" | "starttls" | "starttls-untrusted"; target?: TestSandbox };

/** A connected nodemailer SMTP client (EHLO done, STARTTLS done when asked for). */
async function connect(opts: ConnectOptions = {}): Promise<SMTPConnection> {
  const target = opts.target ?? sandbox;
  const mode = opts.tls ?? "none";
  const connection = new SMTPConnection({
    host: target.smtp.host,
    port: target.smtp.port,
    name: CLIENT_NAME,
    ignoreTLS: mode === "none",
    requireTLS: mode !== "none",
    tls: mode === "starttls" ? { ca } : {},
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
  });
  open.push(connection);
  connection.on("error", () => {});
  // A failed handshake (e.g. an untrusted certificate) comes as an 'error' event.
  await new Promise<void>((resolve, reject) => {
    connection.once("error", reject);
    connection.connect((err) => (err ? reject(err) : resolve()));
  });
  return connection;
}

function send(
  connection: SMTPConnection,
  to: string | string[],
  message: string | Buffer,
  extra: { size?: number } = {},
): Promise<SendInfo> {
  return new Promise((resolve, reject) =>
    connection.send({ from: FROM, to, ...extra }, message, (err, info) => (err ? reject(err) : resolve(info as SendInfo))),
  );
}

/** The error a send failed with (fails the test if it went through). */
async function sendFailure(
  connection: SMTPConnection,
  to: string | string[],
  message: string | Buffer,
  extra: { size?: number } = {},
): Promise<SmtpFailure> {
  let info: SendInfo;
  try {
    info = await send(connection, to, message, extra);
  } catch (error) {
    return error as SmtpFailure;
  }
  throw new Error(`expected a refusal, got ${info.response}`);
}

function login(connection: SMTPConnection, user: string, pass: string, method?: string): Promise<void> {
  return new Promise((resolve, reject) => connection.login({ user, pass, method }, (err) => (err ? reject(err) : resolve())));
}

function quit(connection: SMTPConnection): Promise<void> {
  return new Promise((resolve) => {
    connection.once("end", () => resolve());
    connection.quit();
  });
}

/** The last EHLO the client got, as the keywords it advertised. */
function ehloOf(info: SendInfo): string[] {
  return info.ehlo ?? [];
}

function message(subject: string, body = "Hello.\r\n"): string {
  return [
    `From: <${FROM}>`,
    "To: <someone@example.org>",
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, "")}@example.com>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    body,
  ].join("\r\n");
}

/** A bare SMTP session over a socket, for what a well-behaved client library will not send. */
class RawSession {
  readonly #socket: Socket;
  #buffer = "";
  #waiting: ((reply: string) => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#drain();
    });
  }

  static async open(target: TestSandbox): Promise<{ session: RawSession; greeting: string }> {
    const socket = netConnect(target.smtp.port, target.smtp.host);
    socket.on("error", () => {});
    const session = new RawSession(socket);
    return { session, greeting: await session.reply() };
  }

  /** The next complete reply (all its lines). */
  reply(): Promise<string> {
    const next = new Promise<string>((resolve) => {
      this.#waiting = resolve;
      this.#drain();
    });
    return within(next, "an SMTP reply").catch((error: Error) => {
      throw new Error(`${error.message}; buffered: ${JSON.stringify(this.#buffer)}`);
    });
  }

  command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.#socket.destroy();
  }

  #drain(): void {
    if (this.#waiting === null) return;
    // A reply ends with a line "NNN text" (a space, not a dash, after the code).
    const end = /(?:^|\r\n)\d{3}(?: [^\r\n]*)?\r\n/.exec(this.#buffer);
    if (end === null) return;
    const cut = end.index + end[0].length;
    const reply = this.#buffer.slice(0, cut).replace(/\r\n$/, "");
    this.#buffer = this.#buffer.slice(cut);
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting(reply);
  }
}

describe("delivery", () => {
  it("accepts a plain delivery, records the envelope and keeps the raw message byte for byte", async () => {
    const connection = await connect();
    // 8-bit UTF-8, a line that needs dot-stuffing and a line that is a lone dot once unstuffed.
    const raw = message("plain délivery ✉", "Grüße, 你好 👋\r\n.leading dot\r\n.\r\n..two dots\r\nlast line\r\n");
    const info = await send(connection, "Recipient@Example.org", raw);
    expect(info.accepted).toEqual(["Recipient@Example.org"]);
    const queueId = /^250 2\.0\.0 Ok: queued as ([0-9A-F]{10})$/.exec(info.response)?.[1];
    expect(queueId, info.response).toBeDefined();

    const keywords = ehloOf(info);
    for (const keyword of ["PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS", "SIZE 10485760"]) expect(keywords).toContain(keyword);
    // AUTH is only offered under TLS.
    expect(keywords.some((keyword) => keyword.startsWith("AUTH"))).toBe(false);
    await quit(connection);

    const entries = await received();
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(entry).toMatchObject({ channel: "email", to: "Recipient@Example.org", status: 250, outcome: "accepted" });
    expect(entry.headers).toEqual({ mailFrom: FROM, rcptTo: ["Recipient@Example.org"], tls: false, queueId, helo: CLIENT_NAME });
    expect(Buffer.from(entry.payload ?? "", "utf8").equals(Buffer.from(raw, "utf8"))).toBe(true);
    expect(Date.parse(entry.at)).not.toBeNaN();
  });

  it("greets as sandbox.lasthop.test and advertises the extensions on EHLO", async () => {
    const { session, greeting } = await RawSession.open(sandbox);
    try {
      expect(greeting).toMatch(/^220 sandbox\.lasthop\.test ESMTP/);
      const ehlo = await session.command(`EHLO ${CLIENT_NAME}`);
      const lines = ehlo.split("\r\n").map((line) => line.slice(4));
      expect(lines[0]).toBe("sandbox.lasthop.test");
      expect(lines.slice(1)).toEqual(expect.arrayContaining(["PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS", "SIZE 10485760"]));
      // Before STARTTLS, AUTH is neither offered nor accepted.
      expect(ehlo).not.toMatch(/AUTH/);
      expect(await session.command(`AUTH PLAIN ${Buffer.from("\0user\0pass").toString("base64")}`)).toMatch(/^5\d\d /);
    } finally {
      session.close();
    }
  });

  it("upgrades with STARTTLS (dev CA trusted), then offers and records AUTH", async () => {
    const connection = await connect({ tls: "starttls" });
    expect(connection.secure).toBe(true);
    await login(connection, "smarthost-user", "any password at all");
    const raw = message("over tls");
    const info = await send(connection, "tls-rcpt@example.org", raw);
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{10}$/);
    const keywords = ehloOf(info);
    expect(keywords).toContain("AUTH PLAIN LOGIN");
    expect(keywords).not.toContain("STARTTLS");
    await quit(connection);

    const [entry] = await received();
    expect(entry?.headers).toMatchObject({ tls: true, authUser: "smarthost-user", rcptTo: ["tls-rcpt@example.org"], helo: CLIENT_NAME });
    expect(entry?.payload).toBe(raw);
  });

  it("accepts AUTH LOGIN too, and delivers unauthenticated under TLS", async () => {
    const withLogin = await connect({ tls: "starttls" });
    await login(withLogin, "login-user", "secret", "LOGIN");
    await send(withLogin, "a@example.org", message("auth login"));
    await quit(withLogin);

    const anonymous = await connect({ tls: "starttls" });
    await send(anonymous, "b@example.org", message("no auth"));
    await quit(anonymous);

    const entries = await received();
    expect(entries.map((entry) => [entry.to, entry.headers.tls, entry.headers.authUser])).toEqual([
      ["a@example.org", true, "login-user"],
      ["b@example.org", true, undefined],
    ]);
  });

  it("presents a certificate only the dev CA vouches for", async () => {
    await expect(connect({ tls: "starttls-untrusted" })).rejects.toThrow(/certificate/i);
  });
});

describe("outcomes by recipient", () => {
  it("bounce: 550 5.1.1 at RCPT, recorded as rejected", async () => {
    const connection = await connect();
    const failure = await sendFailure(connection, "bounce@example.org", message("to a bounce"));
    expect(failure.code).toBe("EENVELOPE");
    expect(failure.rejectedErrors?.[0]?.responseCode).toBe(550);
    expect(failure.rejectedErrors?.[0]?.response).toBe("550 5.1.1 <bounce@example.org>: Recipient address rejected: User unknown");
    await quit(connection);

    const entries = await received();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ channel: "email", to: "bounce@example.org", status: 550, outcome: "rejected", payload: null });
    expect(entries[0]?.headers).toEqual({ mailFrom: FROM, rcptTo: ["bounce@example.org"], tls: false, helo: CLIENT_NAME });
  });

  it("a refused recipient does not stop the others (domain words count too)", async () => {
    const connection = await connect();
    const raw = message("mixed");
    const info = await send(connection, ["ok@example.org", "someone@bounce.example.org"], raw);
    expect(info.accepted).toEqual(["ok@example.org"]);
    expect(info.rejected).toEqual(["someone@bounce.example.org"]);
    await quit(connection);

    const entries = await received();
    expect(entries.map((entry) => [entry.outcome, entry.status, entry.headers.rcptTo])).toEqual([
      ["rejected", 550, ["someone@bounce.example.org"]],
      ["accepted", 250, ["ok@example.org"]],
    ]);
    expect(entries[1]?.payload).toBe(raw);
  });

  it("block: 554 5.7.1 policy rejection", async () => {
    const connection = await connect();
    const failure = await sendFailure(connection, "block-me@example.org", message("to a block"));
    expect(failure.rejectedErrors?.[0]?.response).toBe("554 5.7.1 Message rejected as spam by policy");
    await quit(connection);
    expect(await received()).toMatchObject([{ to: "block-me@example.org", status: 554, outcome: "rejected", payload: null }]);
  });

  it("full: 552 5.2.2 mailbox full", async () => {
    const connection = await connect();
    const failure = await sendFailure(connection, "full@example.org", message("to a full mailbox"));
    expect(failure.rejectedErrors?.[0]?.response).toBe("552 5.2.2 Mailbox full");
    await quit(connection);
    expect(await received()).toMatchObject([{ to: "full@example.org", status: 552, outcome: "rejected", payload: null }]);
  });

  it("soft: 451 4.7.1 greylisting on the first attempt for the address, accepted on the next", async () => {
    const address = `soft-${Date.now()}@example.org`;
    const first = await connect();
    const failure = await sendFailure(first, address, message("greylisted"));
    expect(failure.rejectedErrors?.[0]?.responseCode).toBe(451);
    expect(failure.rejectedErrors?.[0]?.response).toBe("451 4.7.1 Greylisted, try again later");
    await quit(first);

    // A retry, as a sender would make it: a new session, the same address.
    const retry = await connect();
    const info = await send(retry, address, message("greylisted, retried"));
    expect(info.accepted).toEqual([address]);
    // Another soft address is greylisted on its own first attempt.
    expect((await sendFailure(retry, `other-${address}`, message("other soft"))).rejectedErrors?.[0]?.responseCode).toBe(451);
    await quit(retry);

    expect((await received()).map((entry) => [entry.to, entry.status, entry.outcome])).toEqual([
      [address, 451, "deferred"],
      [address, 250, "accepted"],
      [`other-${address}`, 451, "deferred"],
    ]);

    // The greylist can be forgotten: the address defers once again.
    expect((await control(sandbox, "DELETE", "/_sandbox/smtp/greylist")).status).toBe(204);
    const again = await connect();
    expect((await sendFailure(again, address, message("greylisted again"))).rejectedErrors?.[0]?.responseCode).toBe(451);
    await quit(again);
  });
});

describe("sessions and the control API", () => {
  it("counts sessions: two messages on one connection are one session", async () => {
    const before = await stats();
    const connection = await connect();
    await send(connection, "first@example.org", message("first"));
    await send(connection, "second@example.org", message("second"));
    const during = await stats();
    expect(during.sessionsOpened).toBe(before.sessionsOpened + 1);
    expect(during.messages).toBe(before.messages + 2);
    expect(during.sessions).toBe(before.sessions + 1);
    await quit(connection);

    const after = await waitFor(async () => {
      const now = await stats();
      return now.sessions === before.sessions && now;
    }, "the session to end at the sandbox");
    expect(after).toEqual({ sessions: before.sessions, sessionsOpened: before.sessionsOpened + 1, messages: before.messages + 2 });
    expect((await received()).map((entry) => entry.to)).toEqual(["first@example.org", "second@example.org"]);
  });

  it("DELETE /_sandbox/received clears email, with or without the channel filter", async () => {
    const connection = await connect();
    await send(connection, "kept-briefly@example.org", message("to be cleared"));
    expect(await received()).toHaveLength(1);
    expect((await control(sandbox, "DELETE", "/_sandbox/received?channel=email")).status).toBe(204);
    expect(await received()).toEqual([]);

    await send(connection, "again@example.org", message("cleared by the unfiltered delete"));
    expect(await received()).toHaveLength(1);
    expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
    expect(await received()).toEqual([]);
    await quit(connection);
  });
});

describe("with a small SIZE limit and a short slow delay", () => {
  const MAX_SIZE = 1024;
  const SLOW_MS = 400;
  let small: TestSandbox;

  beforeAll(async () => {
    small = await startTestSandbox({ certDir: sandbox.certDir, smtpMaxSize: MAX_SIZE, smtpSlowMs: SLOW_MS });
  });

  afterAll(async () => {
    await small?.close();
  });

  it("advertises SIZE and refuses an oversized message with 552 5.3.4, the session going on", async () => {
    const connection = await connect({ target: small });
    const big = message("too big", `${"x".repeat(76)}\r\n`.repeat(30));
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_SIZE);

    const failure = await sendFailure(connection, "big@example.org", big);
    expect(failure.responseCode).toBe(552);
    expect(failure.response).toBe("552 5.3.4 Message size exceeds fixed limit");

    // A sender that declares the size is stopped by the client, which read the advertised limit.
    const declared = await sendFailure(connection, "big@example.org", big, { size: Buffer.byteLength(big) });
    expect(declared.message).toMatch(new RegExp(`${MAX_SIZE}`));

    const info = await send(connection, "small@example.org", message("fits"));
    expect(ehloOf(info)).toContain(`SIZE ${MAX_SIZE}`);
    await quit(connection);

    expect((await received(small)).map((entry) => [entry.to, entry.status, entry.outcome, entry.payload === null])).toEqual([
      ["big@example.org", 552, "rejected", true],
      ["small@example.org", 250, "accepted", false],
    ]);
  });

  it("refuses a MAIL FROM that declares more than SIZE", async () => {
    const { session } = await RawSession.open(small);
    try {
      await session.command(`EHLO ${CLIENT_NAME}`);
      expect(await session.command(`MAIL FROM:<${FROM}> SIZE=${MAX_SIZE + 1}`)).toMatch(/^552 /);
      expect(await session.command(`MAIL FROM:<${FROM}> SIZE=${MAX_SIZE}`)).toMatch(/^250 /);
    } finally {
      session.close();
    }
  });

  it("slow: the 250 after DATA waits", async () => {
    const connection = await connect({ target: small });
    const started = performance.now();
    const info = await send(connection, "slow@example.org", message("slowly"));
    expect(performance.now() - started).toBeGreaterThanOrEqual(SLOW_MS - 20);
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{10}$/);
    await quit(connection);
  });

  it("closes promptly with sessions open, telling them 421", async () => {
    const extra = await startTestSandbox({ certDir: sandbox.certDir, smtpSlowMs: 5_000 });
    const idle = await connect({ target: extra });
    const { session } = await RawSession.open(extra);
    await session.command(`EHLO ${CLIENT_NAME}`);
    // One session waits for a slow 250 when the sandbox stops.
    const pending = sendFailure(idle, "slow@example.org", message("never answered"));
    await waitFor(async () => (await stats(extra)).sessions === 2, "both sessions open");
    const started = performance.now();
    const shutdown = session.reply();
    await extra.close();
    expect(performance.now() - started).toBeLessThan(4_000); // it did not wait for the 5 s answer (slack for a busy machine)
    expect(await shutdown).toMatch(/^421 4\.3\.2 /);
    expect((await pending).message).toBeTruthy();
    session.close();
  });
});
