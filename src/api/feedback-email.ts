/**
 * Feedback that arrives as email: DSN bounces, ARF complaints and replies sent to the
 * bounce domain or to a verified sending domain's return-path host (`lh-bounces.<domain>`,
 * the VERP domain of mail From it). Two doors lead here — Cloudflare Email Routing (the Worker's `email()`
 * handler) and the bridge's inbound SMTP server (a signed POST to /v1/inbound/email) —
 * and both end in this one function, so linking and account resolution exist once.
 * Parsing and normalizing are pure and live in src/core/bounce; this finds the owner
 * (MessageDO), counts what links nowhere (AccountDO) and enqueues the events.
 */
import { parseFeedbackMessage } from "../core/bounce/parse.ts";
import { feedbackEvents } from "../core/bounce/events.ts";
import { RETURN_PATH_LABEL } from "../core/domains.ts";
import { domainOf } from "../core/email.ts";
import { claimants } from "../state/config-read.ts";
import type { CanonicalEvent } from "../core/schema.ts";
import { enqueueEvents } from "./enqueue.ts";
import { accountStub, messageStub } from "../state/stubs.ts";

export type IngestResult =
  | { outcome: "enqueued"; kind: string; events: number }
  | { outcome: "unlinked"; kind: string }
  | { outcome: "not_ours" };

export async function ingestFeedbackEmail(env: Env, raw: Uint8Array, envelopeTo: string): Promise<IngestResult> {
  const read = await readFeedbackEmail(env, raw, envelopeTo);
  await enqueueEvents(env.EVENTS, read.events);
  return read.result;
}

/**
 * Several messages at once (the bridge's batch): each read as above, concurrently, and all
 * their events enqueued together (as few sendBatch calls as fit). A failure fails the lot, so
 * the bridge answers 451 to every sender and nothing it said 250 to is lost.
 */
export async function ingestFeedbackEmails(env: Env, messages: ReadonlyArray<{ raw: Uint8Array; to: string }>): Promise<IngestResult[]> {
  const reads = await Promise.all(messages.map((m) => readFeedbackEmail(env, m.raw, m.to)));
  await enqueueEvents(
    env.EVENTS,
    reads.flatMap((r) => r.events),
  );
  return reads.map((r) => r.result);
}

/** One message parsed, linked and turned into events, nothing enqueued yet. */
async function readFeedbackEmail(
  env: Env,
  raw: Uint8Array,
  envelopeTo: string,
): Promise<{ result: IngestResult; events: CanonicalEvent[] }> {
  const accounts = await owners(env, domainOf(envelopeTo));
  if (accounts.length === 0) return { result: { outcome: "not_ours" }, events: [] };
  const report = await parseFeedbackMessage(raw, { envelopeTo });
  const receivedAt = new Date().toISOString();
  // Only the accounts that own this domain are asked: a report naming another
  // account's message finds nothing and stays unlinked (no leak across accounts).
  const account = report.messageId ? await ownerOf(env, accounts, report.messageId) : null;
  const events = account ? await feedbackEvents(report, { account, receivedAt, provider: "inbound-email" }) : [];
  if (!account || events.length === 0) {
    if (report.kind === "dsn" || report.kind === "arf" || report.kind === "unknown") {
      console.warn(
        JSON.stringify({ msg: "feedback email links to no message", kind: report.kind, envelopeTo, messageId: report.messageId }),
      );
      await accountStub(env, account ?? accounts[0]).count("none", "unlinked", receivedAt);
    }
    return { result: { outcome: "unlinked", kind: report.kind }, events: [] };
  }
  return { result: { outcome: "enqueued", kind: report.kind, events: events.length }, events };
}

/**
 * The accounts that claim the recipient's domain as their bounce domain or as the return-path
 * host of a verified domain (two accounts may verify one domain, each with its own keys), once
 * each, in name order.
 */
async function owners(env: Env, domain: string): Promise<string[]> {
  const returnPath = domain.startsWith(`${RETURN_PATH_LABEL}.`);
  const [bounce, verified] = await Promise.all([
    claimants(env, "bounce_domain", domain),
    returnPath ? claimants(env, "return_path", domain) : [],
  ]);
  return [...new Set([...bounce, ...verified])].sort();
}

/** The account (of those sharing the bounce domain or return-path host) whose MessageDO holds this message. */
async function ownerOf(env: Env, accounts: string[], messageId: string): Promise<string | null> {
  if (accounts.length === 1) return (await messageStub(env, accounts[0], messageId).get()) ? accounts[0] : null;
  for (const account of accounts) if (await messageStub(env, account, messageId).get()) return account;
  return null;
}
