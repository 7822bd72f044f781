/**
 * The `scheduled` handler's status poll (every 5 minutes): for each account, the messages still
 * `accepted` through a provider with a status API, older than its `delivery.statusPoll.afterMinutes`
 * and younger than `stopAfterHours`, at most POLL_PER_ACCOUNT per run, are asked about. What the
 * provider says becomes the same canonical event its webhook makes (same id) and is applied by the
 * events consumer's own `applyCanonical`: a transition seen by webhook and by poll is applied once.
 * A provider error changes nothing and the message is asked again next run.
 */
import { normalizePoll, pollRequest } from "../core/poll/twilio.ts";
import {
  DEFAULT_STATUS_POLL,
  nextPollAt,
  POLL_IN_FLIGHT,
  POLL_PER_ACCOUNT,
  pollWindow,
  polledProviders,
  RETRY_AFTER_ERROR_MS,
  type StatusPollSettings,
} from "../core/poll/schedule.ts";
import { routeByName } from "../core/sms/account.ts";
import { parseDevHosts, routeUrlRefusal } from "../core/webhook-url.ts";
import { accountRuntime } from "../state/config-read.ts";
import type { PollCandidate } from "../state/poll-index.ts";
import { counterStubs, directoryStub } from "../state/stubs.ts";
import { applyCanonical } from "./events.ts";

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
  const sms = sections.sms;
  if (!settings.enabled || !sms?.routes.some((route) => route.type === "rest")) return counts;

  const window = pollWindow(settings, now);
  const shards = counterStubs(env, account);
  const found = await Promise.all(
    shards.map(async (shard, n) => ((await shard.pollDue(window, [...polledProviders])) as PollCandidate[]).map((c) => ({ ...c, n }))),
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
      const verdict = await pollOne(env, account, candidate, sms, settings, now);
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

type Verdict = { asked: boolean; applied: boolean; error: boolean; due: number | null };

async function pollOne(
  env: Env,
  account: string,
  candidate: PollCandidate,
  sms: NonNullable<Awaited<ReturnType<typeof accountRuntime>>["sections"]["sms"]>,
  settings: StatusPollSettings,
  now: number,
): Promise<Verdict> {
  const route = routeByName(sms, candidate.route);
  // The route is gone or is no longer a REST route: nothing to ask, and nothing will be.
  if (route?.type !== "rest") return { asked: false, applied: false, error: false, due: null };
  // The send path's own SSRF rule: a base URL it would refuse is never fetched with the account's credentials.
  if (routeUrlRefusal(route.baseUrl, parseDevHosts(env.WEBHOOK_DEV_HOSTS)))
    return { asked: false, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  const request = pollRequest(candidate.providerMessageId, route);
  let status: number;
  let body: unknown;
  try {
    const response = await fetch(request.url, { ...request.init, signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    status = response.status;
    body = await response.json().catch(() => null);
  } catch (err) {
    console.warn(JSON.stringify({ msg: "status poll request failed", account, messageId: candidate.id, error: String(err) }));
    return { asked: true, applied: false, error: true, due: now + RETRY_AFTER_ERROR_MS };
  }
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
