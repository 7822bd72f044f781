// The bridge's DKIM signer: byte for byte what mailauth's own dkimSign makes (same key, same
// time), for both algorithms and awkward messages; the signing thread pool's messages verify
// with mailauth; a thread that dies while signing never lets a message out unsigned.
import { generateKeyPairSync } from "node:crypto";
import { dkimSign, dkimVerify } from "mailauth";
import { afterEach, describe, expect, it } from "vitest";
import { DkimError, dkimSignatureHeaders, SIGNED_HEADERS } from "../../bridge/src/smtp/dkim.ts";
import { SignerUnavailableError, SignPool } from "../../bridge/src/smtp/sign-pool.ts";
import type { DkimKey } from "../../src/core/bridge.ts";
import { waitFor, within } from "../wait.ts";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ed = generateKeyPairSync("ed25519");
const pem = (k: { privateKey: { export(o: object): string | Buffer } }) => k.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const RSA: DkimKey = { domain: "mail.example.com", selector: "r2026", privateKey: pem(rsa), algorithm: "rsa-sha256" };
const ED: DkimKey = { domain: "mail.example.com", selector: "e2026", privateKey: pem(ed), algorithm: "ed25519-sha256" };

// Public keys as DNS would serve them (RFC 6376 §3.6.1 for RSA, RFC 8463 §4 for Ed25519).
const records: Record<string, string> = {
  "r2026._domainkey.mail.example.com": `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
  "e2026._domainkey.mail.example.com": `v=DKIM1; k=ed25519; p=${(ed.publicKey.export({ type: "spki", format: "der" }) as Buffer).subarray(12).toString("base64")}`,
};
const resolver = async (name: string, type: string) => {
  if (type === "TXT" && records[name]) return [[records[name]]];
  throw Object.assign(new Error(`no ${type} for ${name}`), { code: "ENOTFOUND" });
};
async function verdicts(message: Buffer): Promise<string[][]> {
  const result = await dkimVerify(message, { resolver: resolver as never });
  return result.results.map((r: any) => [r.selector, r.algo, r.status.result]);
}

const MESSAGES: Array<[string, string]> = [
  [
    "plain CRLF message",
    "From: Shop <news@mail.example.com>\r\nTo: <a@example.net>\r\nSubject: Hi\r\nMessage-ID: <1@mail.example.com>\r\n\r\nHello\r\n",
  ],
  [
    "folded headers, odd spacing, trailing blank lines",
    "From:   Shop\r\n <news@mail.example.com>\r\nSubject:\tA  long\r\n\t subject \r\nTo: a@example.net\r\nX-Other: not signed\r\n\r\n  spaced \t line  \r\n\r\nlast\r\n\r\n\r\n",
  ],
  ["bare LF line ends", "From: news@mail.example.com\nTo: a@example.net\nSubject: LF\n\nbody line\nsecond\n"],
  ["no body at all", "From: news@mail.example.com\r\nSubject: empty\r\n\r\n"],
  ["8-bit UTF-8 body", "From: news@mail.example.com\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße, ½ price — today\r\n"],
  ["two From headers (the last one is signed)", "From: a@mail.example.com\r\nFrom: b@mail.example.com\r\n\r\nx\r\n"],
];

describe("DKIM signatures", () => {
  it.each(MESSAGES)("%s: the same bytes as mailauth's dkimSign, RSA and Ed25519 together", async (_name, raw) => {
    const signTime = new Date("2026-11-22T08:00:00Z");
    const theirs = await dkimSign(Buffer.from(raw), {
      signingDomain: RSA.domain,
      selector: RSA.selector,
      privateKey: RSA.privateKey,
      headerList: [...SIGNED_HEADERS],
      signTime,
      signatureData: [RSA, ED].map((k) => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: k.privateKey,
        algorithm: k.algorithm,
        canonicalization: "relaxed/relaxed",
      })),
    });
    expect(theirs.errors).toEqual([]);
    const ours = dkimSignatureHeaders(Buffer.from(raw), [RSA, ED], signTime.getTime());
    expect(ours).toBe(theirs.signatures);
    expect(await verdicts(Buffer.concat([Buffer.from(ours), Buffer.from(raw)]))).toEqual([
      ["r2026", "rsa-sha256", "pass"],
      ["e2026", "ed25519-sha256", "pass"],
    ]);
  });

  it.each([
    ["no From header", "Subject: x\r\n\r\nbody\r\n", RSA, /no From header/],
    ["a key of the other algorithm", MESSAGES[0]![1], { ...RSA, algorithm: "ed25519-sha256" as const }, /Invalid key type/],
    [
      "a key that is not a key",
      MESSAGES[0]![1],
      { ...RSA, privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" },
      /DKIM/,
    ],
    ["a selector that would break the header", MESSAGES[0]![1], { ...RSA, selector: "s; b=x" }, /invalid s= value/],
    [
      "an RSA key under 1024 bits",
      MESSAGES[0]![1],
      { ...RSA, privateKey: pem(generateKeyPairSync("rsa", { modulusLength: 512 })) },
      /too short/,
    ],
  ])("refuses %s", (_name, raw, key, message) => {
    expect(() => dkimSignatureHeaders(Buffer.from(raw), key)).toThrow(DkimError);
    expect(() => dkimSignatureHeaders(Buffer.from(raw), key)).toThrow(message);
  });
});

describe("the signing thread pool", () => {
  let pool: SignPool | undefined;
  afterEach(async () => pool?.close());

  it("signs on its threads: every message verifies, a bad key fails with DkimError, no key leaves the message as it is", async () => {
    pool = new SignPool({ threads: 2 });
    const raws = Array.from({ length: 20 }, (_, i) => MESSAGES[i % MESSAGES.length]![1]);
    const signed = await within(Promise.all(raws.map((raw) => pool!.sign(raw, [RSA, ED]))), "20 signatures");
    for (const [i, message] of signed.entries()) {
      expect(message.subarray(message.length - Buffer.byteLength(raws[i]!)).toString()).toBe(raws[i]);
      expect((await verdicts(message)).map((v) => v[2])).toEqual(["pass", "pass"]);
    }
    await expect(pool.sign(MESSAGES[0]![1], { ...RSA, algorithm: "ed25519-sha256" })).rejects.toThrow(DkimError);
    expect((await pool.sign("From: a@b.c\r\n\r\nx\r\n", undefined)).toString()).toBe("From: a@b.c\r\n\r\nx\r\n");
  });

  it("a thread that dies mid-batch: its messages are signed by its replacement, none comes out unsigned", async () => {
    pool = new SignPool({ threads: 1 });
    await within(pool.sign(MESSAGES[0]![1], RSA), "a first signature"); // the thread is up and has answered
    const first = pool.workers[0]!;
    const jobs = Array.from({ length: 50 }, () => pool!.sign(MESSAGES[1]![1], [RSA, ED]));
    await first.terminate();
    const settled = await within(Promise.allSettled(jobs), "the 50 signatures");
    expect(pool.workers[0]).not.toBe(first);
    for (const result of settled) {
      expect(result.status).toBe("fulfilled");
      const message = (result as PromiseFulfilledResult<Buffer>).value;
      expect((await verdicts(message)).map((v) => v[2])).toEqual(["pass", "pass"]);
    }
  });

  it("when the replacement dies too, the message fails with SignerUnavailableError (retry), and later ones are signed again", async () => {
    pool = new SignPool({ threads: 1 });
    await within(pool.sign(MESSAGES[0]![1], RSA), "a first signature");
    const first = pool.workers[0]!;
    // Many jobs, so the thread is still busy when it is ended (one job alone can be answered
    // before terminate() lands). A job answered before the thread's exit is signed; every other
    // one went to the replacement, which dies too: those fail.
    const answered = new Set<number>();
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const job = pool!.sign(MESSAGES[0]![1], [RSA, ED]);
      job.then(() => answered.add(i)).catch(() => {});
      return job;
    });
    let answeredBeforeExit: Set<number> | undefined;
    // The pool's own exit listener ran first: the replacement exists and holds the stranded jobs.
    first.once("exit", () => {
      answeredBeforeExit = new Set(answered);
      void pool!.workers[0]!.terminate();
    });
    await first.terminate();
    const settled = await within(Promise.allSettled(jobs), "the 200 jobs' ends");
    expect(answeredBeforeExit).toBeDefined();
    const stranded = settled.filter((_, i) => !answeredBeforeExit!.has(i));
    expect(stranded.length).toBeGreaterThan(0);
    for (const result of stranded) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SignerUnavailableError);
    }
    for (const i of answeredBeforeExit!) {
      const message = (settled[i] as PromiseFulfilledResult<Buffer>).value;
      expect((await verdicts(message)).map((v) => v[2])).toEqual(["pass", "pass"]);
    }
    // The second replacement waits a moment (its predecessor never answered), then signs.
    await waitFor(() => pool!.workers.length === 1, "the second replacement thread");
    const later = await within(pool.sign(MESSAGES[0]![1], RSA), "a signature after the replacement");
    expect((await verdicts(later)).map((v) => v[2])).toEqual(["pass"]);
  });

  it("after close, signing fails with SignerUnavailableError", async () => {
    pool = new SignPool({ threads: 1 });
    await pool.close();
    await expect(pool.sign(MESSAGES[0]![1], RSA)).rejects.toThrow(SignerUnavailableError);
  });
});
