/**
 * Feedback that arrives as email: DSN bounces, ARF complaints and replies sent to the
 * bounce domain. Two doors lead here — Cloudflare Email Routing (the Worker's `email()`
 * handler) and the bridge's inbound SMTP server (a signed POST to /v1/inbound/email) —
 * and both end in this one function, so linking and account resolution exist once.
 * Parsing and normalizing are pure and live in src/core/bounce; this finds the owner
 * (MessageDO), counts what links nowhere (AccountDO) and enqueues the events.
 */
import { parseFeedbackMessage } from "../core/bounce/parse.ts";
import { feedbackEvents } from "../core/bounce/events.ts";
import { domainOf } from "../core/email.ts";
import { claimants } from "../state/config-read.ts";
import { enqueueEvents } from "./enqueue.ts";
import { accountStub, messageStub } from "../state/stubs.ts";

export type IngestResult =
  | { outcome: "enqueued"; kind: string; events: number }
  | { outcome: "unlinked"; kind: string }
  | { outcome: "not_ours" };

export async function ingestFeedbackEmail(env: Env, raw: Uint8Array, envelopeTo: string): Promise<IngestResult> {
  const accounts = await claimants(env, "bounce_domain", domainOf(envelopeTo));
  if (accounts.length === 0) return { outcome: "not_ours" };
  const report = await parseFeedbackMessage(raw, { envelopeTo });
  const receivedAt = new Date().toISOString();
  // Only the accounts that own this bounce domain are asked: a report naming another
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
    return { outcome: "unlinked", kind: report.kind };
  }
  await enqueueEvents(env.EVENTS, events);
  return { outcome: "enqueued", kind: report.kind, events: events.length };
}

/** The account (of those sharing the bounce domain) whose MessageDO holds this message. */
async function ownerOf(env: Env, accounts: string[], messageId: string): Promise<string | null> {
  if (accounts.length === 1) return (await messageStub(env, accounts[0], messageId).get()) ? accounts[0] : null;
  for (const account of accounts) if (await messageStub(env, account, messageId).get()) return account;
  return null;
}
