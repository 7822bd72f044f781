/**
 * The `scheduled` handler's status poll (every 5 minutes): for each account, the messages still
 * `accepted` through a provider with a status API, older than its `delivery.statusPoll.afterMinutes`
 * and younger than `stopAfterHours`, at most POLL_PER_ACCOUNT per run, are asked about. What the
 * provider says becomes the same canonical event its webhook makes (same id) and is applied by the
 * events consumer's own `applyCanonical`: a transition seen by webhook and by poll is applied once.
 * A provider error changes nothing and the message is asked again next run.
 */
import { defaultBaseUrl, routesOf } from "../core/email-routes.ts";
import * as mailgun from "../core/poll/mailgun.ts";
import { normalizePoll, pollRequest } from "../core/poll/twilio.ts";
import {
  DEFAULT_STATUS_POLL,
  nextPollAt,
  POLL_IN_FLIGHT,
  POLL_PER_ACCOUNT,
  pollWindow,
  RETRY_AFTER_ERROR_MS,
  type PolledProvider,
  type StatusPollSettings,
} from "../core/poll/schedule.ts";
import { routeByName } from "../core/sms/account.ts";
import { parseDevHosts, routeUrlRefusal } from "../core/webhook-url.ts";
import { accountRuntime } from "../state/config-read.ts";
import type { PollCandidate } from "../state/poll-index.ts";
import { counterStubs, directoryStub } from "../state/stubs.ts";
import { applyCanonical, applyProviderEvent } from "./events.ts";

export type PollSummary = { accounts: number; polled: number; applied: number; errors: number };

/** How long one status request may take before it counts as an error (asked again next run). */
const POLL_TIMEOUT_MS = 10_000;

export async function pollAll(env: Env, now: number): Promise<PollSummary> {
  const summary: PollSummary = { accounts: 0, polled: 0, applied: 0, errors: 0 };
  let cursor: string | null = null;
  do {
    const page = await directoryStub(env).listAccounts(cursor, 100);
    for (const { id, disabled } of page.items) {
      if (disabled) continue;
      try {
        const one = await pollAccount(env, id, now);
        summary.accounts += 1;
        summary.polled += one.polled;
        summary.applied += one.applied;
        summary.errors += one.errors;
      } catch (err) {
        // One account's failure (its objects overloaded, a bad section) never stops the others.
        console.error(JSON.stringify({ msg: "status poll failed", account: id, error: String(err) }));
      }
    }
    cursor = page.nextCursor;
  } while (cursor);
  return summary;
}

export async function pollAccount(env: Env, account: string, now: number): Promise<Omit<PollSummary, "accounts">> {
  const counts = { polled: 0, applied: 0, errors: 0 };
  const { sections } = await accountRuntime(env, account);
  const settings: StatusPollSettings = sections.delivery?.statusPoll ?? DEFAULT_STATUS_POLL;
  if (!settings.enabled) return counts;
  const providers = polledProvidersOf(sections);
  if (!providers.length) return counts;

  const window = pollWindow(settings, now);
  const shards = counterStubs(env, account);
  const found = await Promise.all(
    shards.map(async (shard, n) => ((await shard.pollDue(window, providers)) as PollCandidate[]).map((c) => ({ ...c, n }))),
  );
  // The longest unchanged first, across the shards; the rest wait for the next run.
  const chosen = found
    .flat()
    .sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0))
    .slice(0, POLL_PER_ACCOUNT);

  const marks: Array<Array<{ id: string; due: number | null }>> = shards.map(() => []);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < chosen.length; i = next++) {
      const candidate = chosen[i]!;
      const verdict =
        candidate.provider === "mailgun"
          ? await pollMailgun(env, account, candidate, sections, settings, now)
          : await pollOne(env, account, candidate, sections.sms, settings, now);
      counts.polled += verdict.asked ? 1 : 0;
      counts.applied += verdict.applied ? 1 : 0;
      counts.errors += verdict.error ? 1 : 0;
      marks[candidate.n]!.push({ id: candidate.id, due: verdict.due });
    }
  };
  await Promise.all(Array.from({ length: Math.min(POLL_IN_FLIGHT, chosen.length) }, worker));
  await Promise.all(shards.map((shard, n) => (marks[n]!.length ? shard.pollMark(marks[n]!, now) : undefined)));
  return counts;
}

type Sections = Awaited<ReturnType<typeof accountRuntime>>["sections"];

/**
 * The providers this account's messages are polled through: REST SMS when it has such a route;
 * Mailgun when it has a Mailgun email route and the key and domain its send path uses.
 */
export function polledProvidersOf(sections: Sections): PolledProvider[] {
  const providers: PolledProvider[] = [];
  if (sections.sms?.routes.some((route) => route.type === "rest")) providers.push("rest");
  const mg = sections["provider:mailgun"];
  if (mg?.apiKey && mg.domain && sections.email && routesOf(sections.email).some((route) => route.type === "mailgun"))
    providers.push("mailgun");
  return providers;
}

type Verdict = { asked: boolean; applied: boolean; error: boolean; due: number | null };

async function pollOne(
  env: Env,
  account: string,
  candidate: PollCandidate,
  sms: Sections["sms"],
  settings: StatusPollSettings,
  now: number,
): Promise<Verdict> {
  const route = sms && routeByName(sms, candidate.route);
  // The route is gone or is no longer a REST route: nothing to ask, and nothing will be.
  if (route?.type !== "rest") return { asked: false, applied: false, error: false, due: null };
  // The send path's own SSRF rule: a base URL it would refuse is never fetched with the account's credentials.
  if (routeUrlRefusal(route.baseUrl, parseDevHosts(env.WEBHOOK_DEV_HOSTS)))
    return { asked: false, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  const answer = await ask(account, candidate, pollRequest(candidate.providerMessageId, route), now);
  if ("due" in answer) return answer;
  const { status, body } = answer;
  const result = await normalizePoll(
    {
      account,
      messageId: candidate.id,
      route: candidate.route,
      providerMessageId: candidate.providerMessageId,
      now: new Date(now).toISOString(),
    },
    status,
    body,
  );
  if (result.kind === "error") {
    console.warn(JSON.stringify({ msg: "status poll answered an error", account, messageId: candidate.id, ...result }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
  try {
    await applyCanonical(env, result.event);
  } catch (err) {
    // Not applied (its object busy or gone for a moment): the next run asks again, and the same id dedupes.
    console.error(JSON.stringify({ msg: "applying a polled status failed", account, messageId: candidate.id, error: String(err) }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
  return { asked: true, applied: true, error: false, due: result.final ? null : nextPollAt(settings, candidate.updatedAt, now) };
}

/** One status request: its HTTP status and JSON body (a plain-text body is read as its text), or the error verdict. */
async function ask(
  account: string,
  candidate: PollCandidate,
  request: { url: string; init: RequestInit },
  now: number,
): Promise<{ status: number; body: unknown } | Verdict> {
  try {
    const response = await fetch(request.url, { ...request.init, signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Mailgun's 401 is the plain text "Forbidden"; kept as text for the reason.
    }
    return { status: response.status, body };
  } catch (err) {
    console.warn(JSON.stringify({ msg: "status poll request failed", account, messageId: candidate.id, error: String(err) }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
}

/**
 * A message sent through a Mailgun route: its Events API by message-id, each event applied in
 * order (the webhook's own ids: one already applied by webhook is a duplicate, and the rank
 * never falls). The route's base URL passes the send path's own SSRF rule first.
 */
async function pollMailgun(
  env: Env,
  account: string,
  candidate: PollCandidate,
  sections: Sections,
  settings: StatusPollSettings,
  now: number,
): Promise<Verdict> {
  const route = sections.email ? routesOf(sections.email).find((r) => r.name === candidate.route) : undefined;
  const creds = sections["provider:mailgun"];
  if (route?.type !== "mailgun" || !creds?.apiKey || !creds.domain) return { asked: false, applied: false, error: false, due: null };
  if (route.baseUrl !== undefined && routeUrlRefusal(route.baseUrl, parseDevHosts(env.WEBHOOK_DEV_HOSTS)))
    return { asked: false, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  const request = mailgun.pollRequest(candidate.providerMessageId, route.baseUrl ?? defaultBaseUrl("mailgun"), {
    apiKey: creds.apiKey,
    domain: creds.domain,
  });
  const answer = await ask(account, candidate, request, now);
  if ("due" in answer) return answer;
  const result = await mailgun.normalizePoll(
    { account, messageId: candidate.id, providerMessageId: candidate.providerMessageId, now: new Date(now).toISOString() },
    answer.status,
    answer.body,
  );
  if (result.kind === "error") {
    console.warn(JSON.stringify({ msg: "status poll answered an error", account, messageId: candidate.id, ...result }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
  try {
    for (const event of result.events) await applyProviderEvent(env, event);
  } catch (err) {
    console.error(JSON.stringify({ msg: "applying a polled status failed", account, messageId: candidate.id, error: String(err) }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
  return {
    asked: true,
    applied: result.events.length > 0,
    error: false,
    due: result.final ? null : nextPollAt(settings, candidate.updatedAt, now),
  };
}
