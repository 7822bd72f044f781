/**
 * `POST /v1/webhooks/{provider}/{account}`: the providers' own webhooks, for mail and SMS
 * lasthop sent or not. In this order, for every provider:
 *  1. the account (from the URL, never the body) must have configured the provider: 404;
 *  2. the body limit (413), then the provider's own authentication before anything of the
 *     body is believed: 401 and nothing changed;
 *  3. normalize (src/webhooks/<provider>.ts) to provider events: 400 if the verified body is
 *     not the provider's shape;
 *  4. enqueue, packed (one queue message per 64 KB of events), and answer 200 before any of it
 *     is applied (src/queues/events.ts applies it).
 * Vonage's inbound SMS takes the MO keyword path at once, as Twilio's does.
 */
import { Hono, type Context } from "hono";
import type { ProviderName, Sections } from "../core/config/sections.ts";
import { ApiError, parseJsonText } from "../core/http.ts";
import type { NormalizeContext, NormalizeResult, ProviderEvent } from "../core/provider-event.ts";
import { jsonBytes, PACK_MAX_BYTES, packByBytes, planQueueBatches, QUEUE_MESSAGE_MAX_BYTES } from "../core/queue.ts";
import { accountRuntime } from "../state/config-read.ts";
import { replayStub } from "../state/stubs.ts";
import * as mailgun from "../webhooks/mailgun.ts";
import * as postmark from "../webhooks/postmark.ts";
import * as resend from "../webhooks/resend.ts";
import * as sendgrid from "../webhooks/sendgrid.ts";
import * as ses from "../webhooks/ses.ts";
import * as standard from "../webhooks/standard.ts";
import * as vonage from "../webhooks/vonage.ts";
import { limitBodyTo } from "./body.ts";
import { ingestMo } from "./mo.ts";
import type { AppEnv } from "./types.ts";

/** SendGrid posts batches of up to 768 KB; nothing a provider sends is larger. */
export const PROVIDER_BODY_MAX_BYTES = 1024 * 1024;

/** Account ids as the admin API makes them (and seeded names): never a colon, never a path. */
const ACCOUNT = /^[A-Za-z0-9_-]{1,128}$/;

type Input = {
  c: Context<AppEnv>;
  account: string;
  raw: string;
  ctx: NormalizeContext;
};

/** What one request came to: events to enqueue, or an answer already decided (an MO, an SNS handshake). */
type Ingested = { result: NormalizeResult; release?: () => Promise<void> } | { answer: Response };

type Adapter<P extends ProviderName> = (input: Input, config: Sections[`provider:${P}`]) => Promise<Ingested>;

function unauthorized(provider: string, reason: string): never {
  throw new ApiError(401, "invalid_signature", `the ${provider} webhook did not authenticate (${reason}); nothing was recorded`);
}

async function check(provider: string, verdict: Promise<{ ok: true } | { ok: false; reason: string }>): Promise<void> {
  const result = await verdict;
  if (!result.ok) unauthorized(provider, result.reason);
}

const adapters: { [P in ProviderName]: Adapter<P> } = {
  async sendgrid({ c, raw, ctx }, config) {
    if (!config.webhookPublicKey) notConfigured("sendgrid");
    await check("sendgrid", sendgrid.verify({ headers: c.req.raw.headers, rawBody: raw, publicKey: config.webhookPublicKey }));
    return { result: await sendgrid.normalize(parseJsonText(raw), ctx) };
  },
  async resend({ c, raw, ctx }, config) {
    if (!config.webhookSecret) notConfigured("resend");
    await check("resend", resend.verify({ headers: c.req.raw.headers, rawBody: raw, secret: config.webhookSecret }));
    return { result: await resend.normalize(parseJsonText(raw), ctx) };
  },
  async standard({ c, raw, ctx }, config) {
    await check("standard", standard.verify({ headers: c.req.raw.headers, rawBody: raw, secret: config.webhookSecret }));
    return { result: await standard.normalize(parseJsonText(raw), ctx, config.mapping) };
  },
  async postmark({ c, raw, ctx }, config) {
    if (!config.webhookUsername || !config.webhookPassword) notConfigured("postmark");
    const credentials = { webhookUsername: config.webhookUsername, webhookPassword: config.webhookPassword };
    await check("postmark", postmark.verify(c.req.header("authorization"), credentials));
    return { result: await postmark.normalize(parseJsonText(raw), ctx) };
  },
  async mailgun({ c, account, raw, ctx }, config) {
    if (!config.webhookSigningKey) notConfigured("mailgun");
    // The signature is inside the body: JSON is all that is read before it is checked.
    const body = parseJsonText(raw);
    await check("mailgun", mailgun.verify(body, config.webhookSigningKey));
    const signature = mailgun.mailgunSignature.parse((body as { signature: unknown }).signature);
    const key = mailgun.replayKey(signature);
    const replays = replayStub(c.env, account, "mailgun", key);
    if (!(await replays.claim(key, mailgun.REPLAY_TTL_SECONDS))) unauthorized("mailgun", "replayed_token");
    // Mailgun retries what we did not take: a failure from here on gives the token back.
    return { result: await mailgun.normalize(body, ctx), release: () => replays.release(key) };
  },
  async ses({ c, raw, ctx }, config) {
    if (!config.topicArns?.length) notConfigured("ses");
    const body = parseJsonText(raw);
    const envelope = ses.snsMessage.safeParse(body);
    if (!envelope.success) unauthorized("ses", "malformed_message");
    const message = envelope.data;
    // The topic before anything is fetched: an unknown topic costs us no request.
    if (!ses.topicAllowed(message.TopicArn, config.topicArns)) unauthorized("ses", "unknown_topic");
    const rule = snsUrlRule(c.env);
    if (!rule(message.SigningCertURL, "cert")) unauthorized("ses", "cert_url_not_allowed");
    // Not having the certificate is our failure, not a forgery: 502 makes SNS retry (it retries 5xx only).
    const certificatePem = await snsCertificate(message.SigningCertURL);
    if (!certificatePem) throw new ApiError(502, "certificate_unavailable", "the SNS signing certificate could not be fetched; retry");
    await check("ses", ses.verify(body, { certificatePem, topicArns: config.topicArns, certUrlAllowed: (url) => rule(url, "cert") }));
    if (message.Type === "SubscriptionConfirmation") {
      if (!rule(message.SubscribeURL, "subscribe")) unauthorized("ses", "subscribe_url_not_allowed");
      const confirm = await fetch(message.SubscribeURL, { redirect: "manual", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      await confirm.body?.cancel();
      if (!confirm.ok) throw new ApiError(502, "subscription_not_confirmed", `SNS answered ${confirm.status} to the confirmation`);
      return { answer: c.json({ confirmed: message.TopicArn }, 200) };
    }
    if (message.Type === "UnsubscribeConfirmation") return { answer: c.json({ unsubscribed: message.TopicArn }, 200) };
    return { result: await ses.normalize(parseJsonText(message.Message), ctx) };
  },
  async vonage({ c, account, raw, ctx }, config) {
    if (!config.signatureSecret) notConfigured("vonage");
    const params = vonageParams(c, raw);
    await check("vonage", vonage.verify(params, config.signatureSecret, config.signatureMethod ?? "md5hash"));
    if (vonage.isReceipt(params)) return { result: await vonage.normalize(params, ctx) };
    const mo = vonage.inboundMessage(params, ctx.receivedAt);
    if (!mo) return { answer: c.body(null, 204) };
    const { concat, ...message } = mo;
    await ingestMo(c.env, account, { ...message, route: "vonage", provider: "vonage" }, { keywords: !concat });
    return { answer: c.body(null, 204) };
  },
};

function notConfigured(provider: string): never {
  throw new ApiError(404, "not_found", `${provider} webhooks are not configured for this account`);
}

/** Vonage signs flat parameters, sent as a query (GET), a form or JSON (POST). */
function vonageParams(c: Context<AppEnv>, raw: string): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  const type = c.req.header("content-type") ?? "";
  const entries: Array<[string, unknown]> = /json/i.test(type)
    ? Object.entries((parseJsonText(raw) ?? {}) as Record<string, unknown>)
    : raw && /x-www-form-urlencoded/i.test(type)
      ? [...new URLSearchParams(raw)]
      : [...new URL(c.req.url).searchParams];
  for (const [key, value] of entries) params[key] = typeof value === "string" ? value : JSON.stringify(value);
  return params;
}

/**
 * Where SNS may send us: certificates and subscription confirmations only from SNS's own hosts
 * over https (src/webhooks/ses.ts); `SNS_ORIGIN_PATTERN` replaces the origin rule so the local
 * sandbox can play SNS.
 */
function snsUrlRule(env: Env): (url: string, kind: "cert" | "subscribe") => boolean {
  const pattern = env.SNS_ORIGIN_PATTERN ? new RegExp(`^(?:${env.SNS_ORIGIN_PATTERN})$`) : null;
  return (url, kind) => (pattern ? ses.snsUrlAllowed(url, kind, pattern) : ses.snsUrlAllowed(url, kind));
}

/** Certificates by URL, as values (never promises: workerd ties those to one request). */
const certificates = new Map<string, { pem: string; until: number }>();
const CERT_TTL_MS = 24 * 3600 * 1000;
/** SNS answers in milliseconds; a hung fetch must not hold the request past SNS's own 15 s. */
const FETCH_TIMEOUT_MS = 5_000;

async function snsCertificate(url: string): Promise<string | null> {
  const hit = certificates.get(url);
  if (hit && hit.until > Date.now()) return hit.pem;
  let response: Response;
  try {
    response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch {
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    return null;
  }
  const pem = await response.text();
  if (!pem.includes("-----BEGIN CERTIFICATE-----") || pem.length > 16_384) return null;
  if (certificates.size >= 100) certificates.delete(certificates.keys().next().value!);
  certificates.set(url, { pem, until: Date.now() + CERT_TTL_MS });
  return pem;
}

function isProvider(name: string): name is ProviderName {
  return Object.hasOwn(adapters, name);
}

async function handle(c: Context<AppEnv>): Promise<Response> {
  const provider = c.req.param("provider") ?? "";
  const account = c.req.param("account") ?? "";
  if (!isProvider(provider) || !ACCOUNT.test(account)) throw new ApiError(404, "not_found", `no webhook ${provider}/${account}`);
  if (c.req.method === "GET" && provider !== "vonage") throw new ApiError(405, "method_not_allowed", `${provider} webhooks are POSTed`);
  const runtime = await accountRuntime(c.env, account);
  const config = runtime.disabled ? undefined : runtime.sections[`provider:${provider}`];
  if (!config) notConfigured(provider);
  const raw = await c.req.text();
  const receivedAt = new Date().toISOString();
  const ctx: NormalizeContext = { account, receivedAt, headers: c.req.raw.headers };
  const adapter = adapters[provider] as Adapter<ProviderName>;
  const ingested = await adapter({ c, account, raw, ctx }, config);
  if ("answer" in ingested) return ingested.answer;
  const { result, release } = ingested;
  try {
    if (!result.ok) {
      throw new ApiError(
        400,
        "validation_failed",
        `the verified body is not a ${provider} webhook this endpoint understands`,
        result.issues,
      );
    }
    await enqueueProviderEvents(c.env.EVENTS, result.events);
  } catch (error) {
    await release?.().catch(() => undefined);
    throw error;
  }
  return c.json({ accepted: result.events.length, skipped: result.skipped }, 200);
}

/** Packs of events, as few sendBatch calls as the queue's limits allow; 413 (nothing sent) if one event cannot fit. */
export async function enqueueProviderEvents(queue: Queue, events: readonly ProviderEvent[]): Promise<void> {
  if (events.length === 0) return;
  // The pack's own wrapper counts against the 64 KB too.
  const wrapper = jsonBytes({ kind: "provider-events", events: [] }) - 2;
  const packs = packByBytes(events, PACK_MAX_BYTES - wrapper).map((pack) => ({ kind: "provider-events" as const, events: pack }));
  const plan = planQueueBatches(packs);
  if (!plan.ok) {
    throw new ApiError(
      413,
      "event_too_large",
      `an event is over the ${QUEUE_MESSAGE_MAX_BYTES}-byte limit of a queue message; nothing was enqueued`,
    );
  }
  for (const batch of plan.batches) await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
}

export const providerWebhooks = new Hono<AppEnv>()
  .post("/:provider/:account", limitBodyTo(PROVIDER_BODY_MAX_BYTES), handle)
  .get("/:provider/:account", handle);
