// The SMTP relay end to end against an smtp-server fixture (smarthost mode): signed requests
// only; the VERP envelope and the message bytes arrive as given, with only a DKIM-Signature in
// front; that signature verifies with an independent verifier (Debian's python3-dkim); the
// server's answers map to outcomes through src/core/smtp.ts; SIZE, STARTTLS, implicit TLS,
// AUTH; a connection cut after DATA's final dot is a retry.
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { SIGNED_HEADERS } from "../../bridge/src/smtp/dkim.ts";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { rawMessage, SECRET, signedPost, smarthost, smtpItem, startSmtpFixture, testConfig, type SmtpFixture } from "./smtp-fixture.ts";

/**
 * The independent DKIM verifier is python3-dkim (dkimpy), installed from Debian:
 *   apt-get install -y python3-dkim        (pulls in python3-nacl, needed for ed25519-sha256)
 * It lives in the system interpreter's dist-packages (/usr/bin/python3); a python3 earlier on
 * PATH (pyenv, a venv) does not see it. DKIM_PYTHON overrides the interpreter.
 */
const PYTHON = process.env.DKIM_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

function requirePythonDkim(): void {
  const probe = spawnSync(PYTHON, ["-c", "import dkim, nacl"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw new Error(
      `python3-dkim is REQUIRED for the DKIM tests and is missing: \`${PYTHON} -c "import dkim, nacl"\` failed` +
        ` (${probe.error?.message ?? probe.stderr.trim()}). Install it with \`apt-get install -y python3-dkim\`` +
        " (Debian/Ubuntu; it brings python3-nacl for ed25519), or point DKIM_PYTHON at a python3 that has dkimpy and PyNaCl.",
    );
  }
}

const VERIFY_PY = `
import sys, dkim
record = sys.argv[1].encode()
message = sys.stdin.buffer.read()
print("PASS" if dkim.verify(message, dnsfunc=lambda name, timeout=5: record) else "FAIL")
`;

const VERIFY_EACH_PY = `
import sys, json, dkim
records = json.loads(sys.argv[1])
message = sys.stdin.buffer.read()
def dns(name, timeout=5):
    value = records.get(name.decode().rstrip("."))
    return value.encode() if value else None
def verified(i):
    try:
        return bool(dkim.DKIM(message).verify(idx=i, dnsfunc=dns))
    except Exception:  # a key of the wrong type (PyNaCl raises): not verified
        return False
count = sum(1 for h in dkim.DKIM(message).headers if h[0].lower() == b"dkim-signature")
print(json.dumps([verified(i) for i in range(count)]))
`;

/** Each DKIM-Signature of the message verified on its own, in order, with `records` (name → TXT) as DNS. */
function pythonVerifyEach(message: Buffer, records: Record<string, string>): boolean[] {
  requirePythonDkim();
  const run = spawnSync(PYTHON, ["-c", VERIFY_EACH_PY, JSON.stringify(records)], { input: message, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`python3-dkim crashed: ${run.stderr}`);
  return JSON.parse(run.stdout) as boolean[];
}

/** dkim.verify(message) with `record` served as the selector's TXT record in place of DNS. */
function pythonVerify(message: Buffer, record: string): boolean {
  requirePythonDkim();
  const run = spawnSync(PYTHON, ["-c", VERIFY_PY, record], { input: message, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`python3-dkim crashed: ${run.stderr}`);
  return run.stdout.trim() === "PASS";
}

function dkimKey(algorithm: "rsa-sha256" | "ed25519-sha256"): { privateKey: string; record: string } {
  if (algorithm === "rsa-sha256") {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      record: `v=DKIM1; k=rsa; p=${publicKey.export({ format: "der", type: "spki" }).toString("base64")}`,
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  // RFC 8463: p= is the raw 32-byte public key, the tail of the SPKI DER.
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  return {
    privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    record: `v=DKIM1; k=ed25519; p=${raw.toString("base64")}`,
  };
}

let fixture: SmtpFixture;
let bridge: Bridge;
let url: string;

beforeAll(async () => {
  requirePythonDkim(); // fail the whole file loudly, before anything else, when the verifier is missing
  fixture = await startSmtpFixture({ requireAuth: true });
  bridge = await startBridge(testConfig({ ca: fixture.caPem }));
  url = `${bridge.url}${BRIDGE_SMTP_PATH}`;
});

afterAll(async () => {
  await bridge?.close();
  await fixture?.close();
});

beforeEach(() => fixture.reset());

const auth = { user: "relay-user", pass: "relay-pass" };
const relay = (extra: Record<string, unknown> = {}) => smarthost(fixture, { auth, ...extra });

async function send(items: Array<Record<string, unknown>>, target = url): Promise<BatchResults["results"]> {
  const res = await signedPost(target, { items });
  expect(res.status).toBe(200);
  const { results } = batchResults.parse(await res.json());
  expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id)); // item order
  return results;
}

describe("authentication (before parsing, before sending)", () => {
  const body = () => JSON.stringify({ items: [smtpItem({ rcptTo: "someone@example.net", relay: relay() })] });

  it("unsigned → 401", async () => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: body() });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_signature");
  });

  it("stale: timestamp 6 minutes old → 401", async () => {
    const res = await signedPost(url, body(), SECRET, Date.now() - 6 * 60_000);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/tolerance/);
  });

  it("signed with another secret → 401; unsigned garbage → 401, not 400", async () => {
    expect((await signedPost(url, body(), `whsec_${randomBytes(32).toString("base64")}`)).status).toBe(401);
    expect((await fetch(url, { method: "POST", body: "{not json" })).status).toBe(401);
  });

  it("nothing reached the MTA from any refused request", async () => {
    await fetch(url, { method: "POST", body: body() });
    await signedPost(url, body(), SECRET, Date.now() - 6 * 60_000);
    expect(fixture.rcpts).toHaveLength(0);
    expect(fixture.stats.opened).toBe(0);
  });

  it("signed but not an smtpBatch → 400 with paths; not JSON → 400; other content type → 415", async () => {
    const bad = { items: [{ ...smtpItem({ rcptTo: "someone@example.net", relay: relay() }), relay: { mode: "carrier-pigeon" } }] };
    const res = await signedPost(url, bad);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { code: string; details: Array<{ path: string }> } }).error;
    expect(error.code).toBe("validation_failed");
    expect(error.details.map((d) => d.path)).toContain("items.0.relay.mode");
    expect((await signedPost(url, "{nope")).status).toBe(400);
    const text = body();
    const headers = await signedHeaders(await doorSecret(SECRET, BRIDGE_SMTP_PATH), text);
    expect((await fetch(url, { method: "POST", headers: { "content-type": "text/plain", ...headers }, body: text })).status).toBe(415);
  });
});

describe("relaying a message", () => {
  it("VERP MAIL FROM, the given RCPT TO, the bytes of `raw` unchanged; 250 → accepted with the queue id", async () => {
    const raw = rawMessage({ to: "alice@example.net", body: "Grüße,\r\n.a line that starts with a dot\r\n..two dots\r\n\r\nend\r\n" });
    const item = smtpItem({ rcptTo: "alice@example.net", relay: relay(), raw });
    const [result] = await send([item]);
    expect(result).toMatchObject({ kind: "accepted", detail: { smtpCode: 250, enhancedCode: "2.0.0", remoteMta: fixture.host } });
    expect(fixture.received).toHaveLength(1);
    const got = fixture.received[0]!;
    expect(got.mailFrom).toBe(item.mailFrom);
    expect(got.mailFrom).toMatch(/^bounce\+[0-9a-f-]{36}@bounces\.example\.com$/);
    expect(got.rcptTo).toEqual(["alice@example.net"]);
    expect(got.raw.equals(Buffer.from(raw, "utf8"))).toBe(true); // byte-identical, dot-stuffing undone by the server
    expect(result!.detail.providerMessageId).toMatch(/^[0-9A-F]{10}$/);
    expect(String(result!.detail.response)).toContain(`queued as ${String(result!.detail.providerMessageId)}`);
  });

  for (const algorithm of ["rsa-sha256", "ed25519-sha256"] as const) {
    it(`DKIM ${algorithm}: only a DKIM-Signature is prepended, and python3-dkim verifies it`, async () => {
      const key = dkimKey(algorithm);
      const raw = rawMessage({
        to: "bob@example.net",
        extraHeaders: [
          "List-Unsubscribe: <https://mail.example.com/u/abc>, <mailto:unsub@mail.example.com>",
          "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
          "Reply-To: support@example.com",
          "Feedback-ID: campaign1:acct_test:lasthop",
          // A TLS-RPT report's own fields (RFC 8460 §5.3), signed when present.
          "TLS-Report-Domain: example.net",
          "TLS-Report-Submitter: mail.example.com",
          "X-Mailer: not signed",
        ],
      });
      const item = smtpItem({
        rcptTo: "bob@example.net",
        relay: relay(),
        raw,
        dkim: { domain: "mail.example.com", selector: "s2026", privateKey: key.privateKey, algorithm },
      });
      const [result] = await send([item]);
      expect(result!.kind).toBe("accepted");
      const got = fixture.received[0]!.raw;
      const original = Buffer.from(raw, "utf8");
      expect(got.subarray(got.length - original.length).equals(original)).toBe(true);
      const prefix = got.subarray(0, got.length - original.length).toString("utf8");
      expect(prefix).toMatch(/^DKIM-Signature: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*$/); // exactly one header field
      const tags = Object.fromEntries(
        prefix
          .slice("DKIM-Signature:".length)
          .replace(/\r\n[ \t]/g, "")
          .split(";")
          .map((t) => t.trim().split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      expect(tags).toMatchObject({ v: "1", a: algorithm, c: "relaxed/relaxed", d: "mail.example.com", s: "s2026" });
      const signed = tags.h!.split(":").map((h) => h.trim().toLowerCase());
      expect(new Set(signed)).toEqual(new Set(SIGNED_HEADERS.map((h) => h.toLowerCase()))); // all present ones…
      expect(signed).not.toContain("x-mailer"); // …and nothing else

      expect(pythonVerify(got, key.record)).toBe(true);
      // The verifier really checks: a changed body or a changed signed header fails.
      expect(
        pythonVerify(Buffer.from(got.toString("utf8").replace("this is a test message", "this is a changed message")), key.record),
      ).toBe(false);
      expect(pythonVerify(Buffer.from(got.toString("utf8").replace("Subject: Hello", "Subject: Hullo")), key.record)).toBe(false);
    });
  }

  it("DKIM with a verified domain's two keys: an RSA and an Ed25519 signature (RFC 8463 §1), each verifies", async () => {
    const rsa = dkimKey("rsa-sha256");
    const ed = dkimKey("ed25519-sha256");
    const raw = rawMessage({ to: "dave@example.net" });
    const item = smtpItem({
      rcptTo: "dave@example.net",
      relay: relay(),
      raw,
      dkim: [
        { domain: "mail.example.com", selector: "lhr", privateKey: rsa.privateKey, algorithm: "rsa-sha256" },
        { domain: "mail.example.com", selector: "lhe", privateKey: ed.privateKey, algorithm: "ed25519-sha256" },
      ],
    });
    const [result] = await send([item]);
    expect(result!.kind).toBe("accepted");
    const got = fixture.received[0]!.raw;
    const original = Buffer.from(raw, "utf8");
    expect(got.subarray(got.length - original.length).equals(original)).toBe(true);
    const prefix = got.subarray(0, got.length - original.length).toString("utf8");
    const fields = prefix.split(/\r\n(?![ \t])/).filter(Boolean);
    expect(fields).toHaveLength(2);
    expect(fields.map((f) => /\ba=([\w-]+)/.exec(f.replace(/\r\n[ \t]/g, ""))?.[1])).toEqual(["rsa-sha256", "ed25519-sha256"]);
    const records = { "lhr._domainkey.mail.example.com": rsa.record, "lhe._domainkey.mail.example.com": ed.record };
    expect(pythonVerifyEach(got, records)).toEqual([true, true]);
    // The verifier really checks each: swap the published keys and neither verifies.
    const swapped = { "lhr._domainkey.mail.example.com": ed.record, "lhe._domainkey.mail.example.com": rsa.record };
    expect(pythonVerifyEach(got, swapped)).toEqual([false, false]);
  });

  it("a DKIM key that cannot sign → failed (reason dkim), nothing sent", async () => {
    const item = smtpItem({
      rcptTo: "carol@example.net",
      relay: relay(),
      dkim: {
        domain: "mail.example.com",
        selector: "s1",
        privateKey: "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
        algorithm: "rsa-sha256",
      },
    });
    const [result] = await send([item]);
    expect(result).toMatchObject({ kind: "failed", detail: { reason: "dkim" } });
    expect(fixture.rcpts).toHaveLength(0);
  });
});

describe("the server's answers, through smtpOutcome", () => {
  it("550 5.1.1 → bounced hard userunknown; 554 5.7.1 → bounced soft (not hard); 451 4.7.1 → retry; in item order", async () => {
    const items = [
      smtpItem({ rcptTo: "bounce-me@example.net", relay: relay() }),
      smtpItem({ rcptTo: "block-me@example.net", relay: relay() }),
      smtpItem({ rcptTo: "soft-me@example.net", relay: relay() }),
      smtpItem({ rcptTo: "fine@example.net", relay: relay() }),
    ];
    const [bounce, block, soft, fine] = await send(items);
    expect(bounce).toMatchObject({
      kind: "bounced",
      detail: { class: "hard", reason: "userunknown", smtpCode: 550, enhancedCode: "5.1.1", remoteMta: fixture.host },
    });
    expect(String(bounce!.detail.response)).toMatch(/^550 5\.1\.1 <bounce-me@example\.net>/);
    expect(block).toMatchObject({ kind: "bounced", detail: { class: "soft", reason: "rejected", smtpCode: 554, enhancedCode: "5.7.1" } });
    expect(soft).toMatchObject({ kind: "retry", detail: { reason: "deferred", smtpCode: 451, enhancedCode: "4.7.1" } });
    expect(fine!.kind).toBe("accepted");
    // block was refused after DATA (the message went over); bounce and soft at RCPT (it did not).
    expect(fixture.received.map((r) => r.rcptTo[0])).toEqual(["fine@example.net"]);
  });

  it("a server that cuts the connection after DATA's final dot without answering → retry (connection)", async () => {
    // The at-least-once window: the server got the whole message and may have queued it, but
    // no reply came, so the relay cannot know. It answers `retry` and the edge's queue sends
    // again; the recipient may get it twice. Never `accepted` without a 250.
    const item = smtpItem({ rcptTo: "drop-me@example.net", relay: relay() });
    const [result] = await send([item]);
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "connection", remoteMta: fixture.host } });
    expect(fixture.received.map((r) => r.rcptTo[0])).toEqual(["drop-me@example.net"]); // it did arrive
    // The broken connection was discarded: the next message goes over a fresh, working one.
    const [next] = await send([smtpItem({ rcptTo: "next-one@example.net", relay: relay() })]);
    expect(next, JSON.stringify(next)).toMatchObject({ kind: "accepted" });
  });
});

describe("SIZE, TLS and AUTH", () => {
  it("AUTH with the relay's user and password, under STARTTLS; the messages carry that login", async () => {
    const fresh = await startSmtpFixture({ requireAuth: true, credentials: auth });
    try {
      const [result] = await send([smtpItem({ rcptTo: "dave@example.net", relay: smarthost(fresh, { auth }) })]);
      expect(result!.kind).toBe("accepted");
      expect(fresh.auths).toEqual([expect.objectContaining({ user: "relay-user", pass: "relay-pass", secure: true })]);
      expect(fresh.received[0]).toMatchObject({ secure: true, user: "relay-user" });
    } finally {
      await fresh.close();
    }
  });

  it("wrong password → 535 → failed (reason auth), nothing sent", async () => {
    const [result] = await send([smtpItem({ rcptTo: "erin@example.net", relay: relay({ auth: { user: "relay-user", pass: "wrong" } }) })]);
    expect(result).toMatchObject({ kind: "failed", detail: { reason: "auth", smtpCode: 535 } });
    expect(fixture.rcpts).toHaveLength(0);
  });

  it("the server's SIZE is smaller than the message → bounced mesgtoobig, nothing sent", async () => {
    const small = await startSmtpFixture({ size: 600 });
    try {
      const big = smtpItem({
        rcptTo: "big@example.net",
        relay: smarthost(small),
        raw: rawMessage({ to: "big@example.net", body: `${"x".repeat(2_000)}\r\n` }),
      });
      const fits = smtpItem({ rcptTo: "fits@example.net", relay: smarthost(small) });
      const [tooBig, ok] = await send([big, fits]);
      expect(tooBig).toMatchObject({ kind: "bounced", detail: { reason: "mesgtoobig", enhancedCode: "5.3.4", remoteMta: small.host } });
      expect(small.rcpts.map((r) => r.address)).toEqual(["fits@example.net"]); // no MAIL FROM/RCPT TO for the big one
      expect(small.received.map((r) => r.rcptTo[0])).toEqual(["fits@example.net"]);
      expect(ok!.kind).toBe("accepted");
    } finally {
      await small.close();
    }
  });

  it("requireTLS and the server offers no STARTTLS → retry tls_required, nothing sent; requireTLS false → plaintext", async () => {
    const plain = await startSmtpFixture({ tls: "none" });
    try {
      const [refused] = await send([smtpItem({ rcptTo: "frank@example.net", relay: smarthost(plain, { requireTLS: true }) })]);
      expect(refused).toMatchObject({ kind: "retry", detail: { reason: "tls_required", remoteMta: plain.host } });
      expect(plain.rcpts).toHaveLength(0);
      const [allowed] = await send([smtpItem({ rcptTo: "frank@example.net", relay: smarthost(plain, { requireTLS: false }) })]);
      expect(allowed!.kind).toBe("accepted");
      expect(plain.received[0]!.secure).toBe(false);
    } finally {
      await plain.close();
    }
  });

  it("secure: true → implicit TLS (certificate verified with SMTP_CA_FILE's CA)", async () => {
    const implicit = await startSmtpFixture({ tls: "implicit" });
    try {
      const [result] = await send([smtpItem({ rcptTo: "grace@example.net", relay: smarthost(implicit, { secure: true }) })]);
      expect(result!.kind).toBe("accepted");
      expect(implicit.received[0]!.secure).toBe(true);
    } finally {
      await implicit.close();
    }
  });

  it("a certificate the bridge does not trust → retry (connection), nothing sent", async () => {
    const untrusting = await startBridge(testConfig()); // no SMTP_CA_FILE
    try {
      const [result] = await send([smtpItem({ rcptTo: "heidi@example.net", relay: relay() })], `${untrusting.url}${BRIDGE_SMTP_PATH}`);
      expect(result).toMatchObject({ kind: "retry", detail: { reason: "connection" } });
      expect(String(result!.detail.error)).toMatch(/certificate|self.signed/i);
      expect(fixture.rcpts).toHaveLength(0);
    } finally {
      await untrusting.close();
    }
  });

  it("a smarthost that refuses connections → retry (connection)", async () => {
    const [result] = await send([
      smtpItem({ rcptTo: "ivan@example.net", relay: { mode: "smarthost", host: "127.0.0.1", port: 1, secure: false, requireTLS: true } }),
    ]);
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "connection", remoteMta: "127.0.0.1" } });
    expect(String(result!.detail.error)).toMatch(/ECONNREFUSED|refused/i);
  });
});

describe("health and metrics", () => {
  it("/healthz shows the open SMTP connections; /metrics the email counters, outcomes, connections, durations", async () => {
    await send([smtpItem({ rcptTo: "judy@example.net", relay: relay() }), smtpItem({ rcptTo: "bounce-x@example.net", relay: relay() })]);
    const health = (await (await fetch(`${bridge.url}/healthz`)).json()) as { ok: boolean; smtp: { connections: Record<string, number> } };
    expect(health.ok).toBe(true);
    expect(health.smtp.connections[`${fixture.host}:${fixture.port}`]).toBeGreaterThanOrEqual(1);
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    for (const line of [
      /^bridge_sent_total\{channel="email"\} \d+$/m,
      /^bridge_outcomes_total\{channel="email",kind="accepted",reason="none"\} \d+$/m,
      /^bridge_outcomes_total\{channel="email",kind="bounced",reason="userunknown"\} \d+$/m,
      new RegExp(`^bridge_smtp_connections\\{host="127\\.0\\.0\\.1:${fixture.port}"\\} [1-9]\\d*$`, "m"),
      /^bridge_request_duration_seconds_count\{channel="email"\} \d+$/m,
      /^bridge_smtp_transaction_duration_seconds_count\{kind="accepted"\} \d+$/m,
    ]) {
      expect(text).toMatch(line);
    }
  });
});
