import { Mailbox, createMimeMessage, type MIMEMessage } from "mimetext/browser";
import { BRIDGE_SMTP_PATH, bridgeServes, type SmtpBatch } from "../core/bridge.ts";
import type { AccountRuntime } from "../core/config/runtime.ts";
import {
  base64Lines,
  domainOf,
  envelopeDomain,
  fitsSevenBit,
  signUnsubscribeToken,
  verpAddress,
  wantsListUnsubscribe,
  type EmailAccountConfig,
} from "../core/email.ts";
import { encodedValue, headerValue, linesWithinLimit, mailboxValue } from "../core/mail-header.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { messageEntity } from "../core/attachment.ts";
import type { EmailSend } from "../core/schema.ts";
import { emailRoutePlan, type EmailRoute, type EspRoute } from "../core/email-routes.ts";
import { unpaced, type PacedItem, type RelayPacing } from "../core/ip-pools.ts";
import { trackedHtml, trackingWanted } from "../core/tracking.ts";
import { parseDevHosts, routeUrlRefusal } from "../core/webhook-url.ts";
import { sendBatchToBridge } from "./bridge.ts";
import { sendEsp } from "./esp/index.ts";
import { noCircuits, overRoutes, withRoute, type Circuits } from "./failover.ts";

/** `route`: the route the message is pinned to (one that took it or may have). */
export type EmailJob = { id: string; account: string; createdAt: string; request: EmailSend; route?: string; config: AccountRuntime };

/**
 * Composes the RFC 5322 message. Deterministic for a message (Date is its creation time,
 * Message-ID and the MIME boundaries come from its id), so every retry relays the same bytes.
 */
export async function composeEmail(
  job: EmailJob,
  config: EmailAccountConfig,
  env: Pick<Env, "PUBLIC_URL" | "UNSUBSCRIBE_SECRET">,
): Promise<{ raw: string; headers: Record<string, string> }> {
  const { request, id } = job;
  const headers = await addedHeaders(job, config, env);
  const msg = createMimeMessage();
  // Boundaries from the message id rather than Math.random: every retry relays the same bytes.
  const compact = id.replace(/-/g, "");
  msg.boundaries = { mixed: `m${compact}`, alt: `a${compact}`, related: `r${compact}` };
  msg.setSender(request.fromName ? { name: request.fromName, addr: request.from } : { addr: request.from });
  msg.setRecipient(request.to);
  msg.setSubject(request.subject);
  // mimetext writes Subject and a From name as one encoded-word however long: ours are folded.
  writeAs(msg, "Subject", encodedValue("Subject", request.subject));
  writeAs(msg, "From", mailboxValue("From", request.fromName, request.from));
  const fromDomain = domainOf(request.from);
  msg.setHeader("Date", new Date(job.createdAt).toUTCString().replace("GMT", "+0000"));
  msg.setHeader("Message-ID", `<${id}@${fromDomain}>`);
  if (request.replyTo) msg.setHeader("Reply-To", new Mailbox(request.replyTo));
  for (const [name, value] of Object.entries(headers)) msg.setHeader(name, folded(name, value));
  for (const [contentType, data] of [
    ["text/plain", request.text],
    ["text/html", request.html],
  ] as const) {
    if (data === undefined) continue;
    // Non-ASCII or very long lines go base64: labelling 8-bit text as 7bit breaks strict MTAs and DKIM.
    msg.addMessage(fitsSevenBit(data) ? { contentType, data } : { contentType, data: base64Lines(data), encoding: "base64" });
  }
  // With attachments the body is ours (core/attachment.ts): mimetext quotes a filename as it is
  // (no RFC 2231) and sorts parts by searching their Content-Disposition text.
  const raw =
    request.attachments && request.attachments.length > 0
      ? `${msg.headers.dump()}\r\n${messageEntity(
          msg.messages.map((part) => part.dump()),
          request.attachments,
          msg.boundaries,
        )}`
      : msg.asRaw();
  // The schema refuses what cannot be folded; this keeps a broken line from ever reaching an MTA.
  if (!linesWithinLimit(raw)) throw new Error(`a line of the composed message is over 998 octets`);
  return { raw, headers };
}

/**
 * The header fields lasthop adds to a message, then the send's own, unfolded and in the order
 * they are written: the relay's MIME carries them, and hosted providers that take fields get them.
 */
async function addedHeaders(
  { request, id, account }: EmailJob,
  config: EmailAccountConfig,
  env: Pick<Env, "PUBLIC_URL" | "UNSUBSCRIBE_SECRET">,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { "X-Lasthop-Message-Id": id };
  // Feedback-ID: campaign:customer:mail type:sender id (Gmail's Feedback Loop).
  const tag = (request.tags?.[0] ?? "default").replace(/[^\w.-]/g, "_");
  headers["Feedback-ID"] = `${tag}:${account.replace(/[^\w.-]/g, "_")}:lasthop:${config.feedbackSenderId}`;
  if (wantsListUnsubscribe(request.listUnsubscribe, request.tags)) {
    const token = await signUnsubscribeToken(env.UNSUBSCRIBE_SECRET, { account, recipient: request.to, messageId: id });
    const https = `${env.PUBLIC_URL.replace(/\/$/, "")}/u/${token}`;
    headers["List-Unsubscribe"] = `<${https}>, <mailto:unsubscribe+${id}@${config.bounceDomain}>`;
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
  }
  return { ...headers, ...request.headers };
}

/** A header value folded for its field, or an error (compose_error) when it cannot be. */
function folded(name: string, value: string): string {
  const text = headerValue(name, value);
  if (text === null) throw new Error(`the ${name} header cannot be folded into lines of 998 octets`);
  return text;
}

/** Has mimetext write a built-in field (its value set and validated) as this folded text. */
function writeAs(msg: MIMEMessage, name: string, text: string | null): void {
  const field = msg.headers.fields.find((f) => f.name === name);
  if (!field || text === null) throw new Error(`the ${name} header cannot be written`);
  field.dump = () => text;
}

type Composed = EmailJob & { raw: string; headers: Record<string, string> };

/**
 * Sends a group of emails over each account's routes (`overRoutes`): composed here once, then
 * the relay legs of a round go to the bridge together (DKIM signed and delivered there) and
 * each hosted provider's leg is one API call with the same message. A route that certainly did
 * not take a message passes it on; one that may have keeps it (the message is pinned there).
 */
export async function sendEmailBatch(
  jobs: EmailJob[],
  env: Env,
  circuits: Circuits = noCircuits,
  pacing: RelayPacing = unpaced,
): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(jobs.length);
  const plans: Array<{ index: number; job: Composed; routes: EmailRoute[]; clickTracked: boolean }> = [];
  for (const [index, job] of jobs.entries()) {
    const config = job.config.sections.email;
    if (!config) {
      outcomes[index] = { kind: "failed", detail: { reason: "channel_not_configured", hint: "the account has no email settings" } };
      continue;
    }
    const routes = emailRoutePlan(config, { id: job.id, route: job.request.route, tags: job.request.tags }, job.route);
    if (routes.length === 0) {
      outcomes[index] = { kind: "failed", detail: { reason: "no_route", wanted: job.request.route ?? null, pinned: job.route ?? null } };
      continue;
    }
    try {
      const tracked = await withTracking(job, env);
      const clickTracked = tracked.request.html !== undefined && trackingWanted(job.config.sections.tracking, job.request.tracking).clicks;
      plans.push({ index, job: { ...tracked, ...(await composeEmail(tracked, config, env)) }, routes, clickTracked });
    } catch (err) {
      // Composition is deterministic: what fails once fails every time, so no retry.
      outcomes[index] = { kind: "failed", detail: { reason: "compose_error", error: String(err) } };
    }
  }
  const routed = await overRoutes(plans, (legs) => emailRound(legs, env, pacing), circuits);
  routed.forEach(({ outcome, route, passed }, k) => {
    const routedOutcome = withRoute(outcome, route, passed);
    // Retention keeps a click-tracked message's link URLs after its body expires (state/message.ts).
    outcomes[plans[k]!.index] =
      plans[k]!.clickTracked && routedOutcome.kind === "accepted"
        ? { ...routedOutcome, detail: { ...routedOutcome.detail, clickTracked: true } }
        : routedOutcome;
  });
  return outcomes;
}

/**
 * The send as every route receives it (the relay's MIME and each hosted provider's request):
 * its html with links through `/t/c/{token}` and the open pixel, when the account's `tracking`
 * section or the send asks. Deterministic, like the composition: every retry sends the same html.
 */
async function withTracking(job: EmailJob, env: Pick<Env, "PUBLIC_URL" | "UNSUBSCRIBE_SECRET">): Promise<EmailJob> {
  const html = job.request.html;
  const wanted = trackingWanted(job.config.sections.tracking, job.request.tracking);
  if (html === undefined || (!wanted.opens && !wanted.clicks)) return job;
  const links = { base: env.PUBLIC_URL, secret: env.UNSUBSCRIBE_SECRET, account: job.account, messageId: job.id };
  return { ...job, request: { ...job.request, html: await trackedHtml(html, wanted, links) } };
}

/**
 * One round: the relay legs through the account's pools (`pacing`: source address, warm-up,
 * destination throttles) and the bridge in chunks, each hosted provider's leg by its own API.
 */
async function emailRound(legs: Array<{ job: Composed; route: EmailRoute }>, env: Env, pacing: RelayPacing): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(legs.length);
  const items: PacedItem[] = [];
  const indexes: number[] = [];
  const work: Promise<void>[] = [];
  const devHosts = parseDevHosts(env.WEBHOOK_DEV_HOSTS);
  legs.forEach(({ job, route }, i) => {
    if (route.type !== "relay") {
      work.push(
        sendHosted(job, route, devHosts, Number(env.ESP_TIMEOUT_SECONDS ?? 30) * 1000).then((outcome) => {
          outcomes[i] = outcome;
        }),
      );
      return;
    }
    if (!bridgeServes(env, "email")) {
      outcomes[i] = {
        kind: "retry",
        detail: { reason: "route_down", submitted: "no", hint: "the bridge does not serve email in this deployment" },
      };
      return;
    }
    const config = job.config.sections.email!;
    const item: SmtpBatch["items"][number] = {
      id: job.id,
      account: job.account,
      mailFrom: verpAddress(
        job.id,
        envelopeDomain(
          job.request.from,
          job.config.domains.map((d) => d.domain),
          config.bounceDomain,
        ),
      ),
      rcptTo: job.request.to,
      raw: job.raw,
      ...dkimFor(job, config),
      relay: config.relay,
    };
    items.push({ item, tags: job.request.tags, delivery: job.config.sections.delivery });
    indexes.push(i);
  });
  if (items.length > 0)
    work.push(
      pacing(items, relayToBridge(env)).then((results) => {
        indexes.forEach((index, k) => {
          outcomes[index] = results[k]!;
        });
      }),
    );
  await Promise.all(work);
  return outcomes;
}

/** Relay items to the bridge in chunks under its body limit, one outcome per item in order. */
function relayToBridge(env: Env) {
  return async (items: SmtpBatch["items"]): Promise<SendOutcome[]> => {
    const outcomes: SendOutcome[] = new Array(items.length);
    await Promise.all(
      [...chunks(items, [...items.keys()])].map(async (chunk) => {
        const results = await sendBatchToBridge(
          env,
          BRIDGE_SMTP_PATH,
          { items: chunk.items },
          chunk.items.map((item) => item.id),
        );
        chunk.indexes.forEach((index, k) => {
          outcomes[index] = results[k]!;
        });
      }),
    );
    return outcomes;
  };
}

/**
 * One message through a hosted provider. A base URL outside the rules every outbound URL
 * follows (https to a public host; plain http only to a dev host) is a misconfigured route:
 * nothing is sent, and the next route may take the message.
 */
function sendHosted(job: Composed, route: EspRoute, devHosts: readonly string[], timeoutMs: number): Promise<SendOutcome> {
  const refusal = route.baseUrl === undefined ? null : routeUrlRefusal(route.baseUrl, devHosts);
  if (refusal) return Promise.resolve(refusal);
  const message = { id: job.id, account: job.account, request: job.request, raw: job.raw, headers: job.headers };
  return sendEsp(message, route, job.config.sections, { timeoutMs });
}

/**
 * The DKIM keys for this From: the verified domain's own (`/v1/domains`), both of them (RSA and
 * Ed25519), else the key of the account's email settings, else none (the relay sends unsigned).
 */
function dkimFor(job: EmailJob, config: EmailAccountConfig): { dkim?: SmtpBatch["items"][number]["dkim"] } {
  const from = domainOf(job.request.from);
  const own = job.config.domains.find((d) => d.domain.toLowerCase() === from);
  if (own && own.keys.length > 0) return { dkim: own.keys.map((key) => ({ domain: own.domain, ...key })) };
  return config.dkim ? { dkim: config.dkim } : {};
}

/** Keeps each bridge request well under its 5 MiB body limit. */
function* chunks(items: SmtpBatch["items"], indexes: number[], maxBytes = 4 * 1024 * 1024) {
  let current: { items: SmtpBatch["items"]; indexes: number[]; bytes: number } = { items: [], indexes: [], bytes: 0 };
  for (const [i, item] of items.entries()) {
    if (current.items.length > 0 && current.bytes + item.raw.length > maxBytes) {
      yield current;
      current = { items: [], indexes: [], bytes: 0 };
    }
    current.items.push(item);
    current.indexes.push(indexes[i]);
    current.bytes += item.raw.length;
  }
  if (current.items.length > 0) yield current;
}
