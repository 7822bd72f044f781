import { Hono } from "hono";
import { inboundEmailBatchRequest, inboundEmailRequest } from "../core/api-requests.ts";
import type { InboundEmailBatchResponse } from "../core/api-responses.ts";
import { fromBase64 } from "../core/bytes.ts";
import { ingestFeedbackEmail, ingestFeedbackEmails } from "./feedback-email.ts";
import { ingestMo } from "./mo.ts";
import {
  EDGE_EMAIL_INBOUND_PATH,
  EDGE_MTA_STS_PATH,
  EDGE_SMS_INBOUND_PATH,
  EDGE_TLS_INBOUND_PATH,
  smsInbound,
  stsPolicyExchange,
  tlsSessionBatch,
  type TlsSessionReport,
} from "../core/bridge.ts";
import { derivedEventId } from "../core/ids.ts";
import { accountForAddress, senderKey } from "../core/sms/account.ts";
import { claimants } from "../state/config-read.ts";
import { accountStub, refStub, tlsDomainStub } from "../state/stubs.ts";
import type { ReceiptResult } from "../state/types.ts";
import { limitBody, limitBodyTo } from "./body.ts";
import { ApiError, assertSigned, readJson, validationError } from "../core/http.ts";
import { signatureHeadersFirst } from "./signature-headers.ts";
import type { AppEnv } from "./types.ts";

const notOurs = (to: string) => `${to} is not at a bounce domain of this deployment`;

/** The bridge caps inbound mail at 10 MiB; base64 and JSON add a third. */
const MAX_INBOUND_BYTES = 16 * 1024 * 1024;

/**
 * `POST /v1/inbound/email`: the bridge's inbound SMTP server hands over one message per
 * recipient, signed like every bridge call. 202 means enqueued (the bridge then answers
 * 250 to the sending MTA); 422 `not_ours` makes it answer 550; anything else makes it 451,
 * so the sender retries and nothing is lost. A body `{messages: [...]}` carries several (the
 * bridge batches what arrives together): 202 with one result per message, not_ours among
 * them; any failure fails the whole batch.
 */
export const inbound = new Hono<AppEnv>().post(
  "/email",
  // Up to 16 MiB: the headers are judged first, then the declared length, before any read.
  signatureHeadersFirst,
  limitBodyTo(MAX_INBOUND_BYTES),
  async (c) => {
    const raw = await c.req.text();
    await assertSigned(c.env.WEBHOOK_SECRET, EDGE_EMAIL_INBOUND_PATH, c.req.raw.headers, raw);
    const value = readJson(c.req.raw.headers, raw);
    if (typeof value === "object" && value !== null && "messages" in value) {
      const batch = inboundEmailBatchRequest.safeParse(value);
      if (!batch.success) throw validationError(batch.error);
      const results = await ingestFeedbackEmails(
        c.env,
        batch.data.messages.map((m) => ({ raw: fromBase64(m.raw), to: m.to })),
      );
      const body: InboundEmailBatchResponse = {
        results: results.map((result, i) =>
          result.outcome === "not_ours" ? { error: { code: "not_ours", message: notOurs(batch.data.messages[i]!.to) } } : result,
        ),
      };
      return c.json(body, 202);
    }
    const parsed = inboundEmailRequest.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    const result = await ingestFeedbackEmail(c.env, fromBase64(parsed.data.raw), parsed.data.to);
    if (result.outcome === "not_ours") throw new ApiError(422, "not_ours", notOurs(parsed.data.to));
    return c.json(result, 202);
  },
);

/** SMPP has no id for an MO: a redelivery within this window counts as the same message. */
const MO_DEDUPE_WINDOW_MS = 10 * 60 * 1000;

/**
 * `POST /v1/inbound/sms`: the bridge hands over each deliver_sm (a receipt or an MO message)
 * signed, and acknowledges it to the SMSC only after our 2xx. Receipts go to the RefDO of
 * their SMSC id, which applies them or parks them until the submit result maps that id.
 * 422 means never ours (the bridge then acknowledges so the SMSC stops redelivering).
 */
inbound.post("/sms", signatureHeadersFirst, limitBody, async (c) => {
  const raw = await c.req.text();
  await assertSigned(c.env.WEBHOOK_SECRET, EDGE_SMS_INBOUND_PATH, c.req.raw.headers, raw);
  const value = readJson(c.req.raw.headers, raw);
  const parsed = smsInbound.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  const item = parsed.data;
  const now = new Date().toISOString();
  // Receipts come back to our original sender, MO to the number texted: either way `to` is ours.
  const [owners, routeUsers] = await Promise.all([
    claimants(c.env, "sms_sender", senderKey(item.to)),
    claimants(c.env, "sms_bridge_route", item.route),
  ]);
  const account = accountForAddress(owners, routeUsers);
  if (!account) {
    console.warn(JSON.stringify({ msg: "deliver_sm for a sender no account owns", kind: item.kind, route: item.route, to: item.to }));
    throw new ApiError(422, "not_ours", `${item.to} is not a sender of any account using route ${item.route}`);
  }
  if (item.kind === "dlr") {
    const { kind: _kind, from: _from, to: _to, ...receipt } = item;
    const result = (await refStub(c.env, account, `smpp:${item.route}`, item.smscId).receipt({
      ...receipt,
      receivedAt: now,
    })) as unknown as ReceiptResult;
    if (result.kind === "parked") await accountStub(c.env, account).count("sms", "receipt_parked", now);
    return c.json({ outcome: result.kind }, 202);
  }
  const bucket = Math.floor(Date.parse(item.receivedAt) / MO_DEDUPE_WINDOW_MS);
  const id = await derivedEventId("smpp-mo", item.route, item.from, item.to, item.body, bucket);
  const result = await ingestMo(c.env, account, {
    id,
    route: item.route,
    provider: "smpp",
    from: item.from,
    to: item.to,
    body: item.body,
    receivedAt: item.receivedAt,
  });
  return c.json(result, 202);
});

/**
 * `POST /v1/inbound/tls`: the bridge's direct SMTP sessions under MTA-STS policies, batched, for
 * TLS-RPT. Each policy domain's sessions go to that domain's platform-wide object, which counts a
 * batch id once a day, so the bridge may post a batch again when it lost our answer. 202 once
 * every domain has counted it; any failure is a 5xx and the bridge retries the whole batch.
 */
/** 500 sessions, each with its policy's lines: well past the default 256 KiB for long policies. */
const MAX_TLS_BATCH_BYTES = 4 * 1024 * 1024;

inbound.post("/tls", signatureHeadersFirst, limitBodyTo(MAX_TLS_BATCH_BYTES), async (c) => {
  const raw = await c.req.text();
  await assertSigned(c.env.WEBHOOK_SECRET, EDGE_TLS_INBOUND_PATH, c.req.raw.headers, raw);
  const parsed = tlsSessionBatch.safeParse(readJson(c.req.raw.headers, raw));
  if (!parsed.success) throw validationError(parsed.error);
  const byDomain = new Map<string, TlsSessionReport[]>();
  for (const session of parsed.data.sessions) {
    const domain = session.policy.domain.toLowerCase();
    const list = byDomain.get(domain) ?? [];
    list.push(session);
    byDomain.set(domain, list);
  }
  const counted = await Promise.all(
    [...byDomain].map(([domain, sessions]) => tlsDomainStub(c.env, domain).record(domain, parsed.data.batchId, sessions)),
  );
  return c.json({ domains: byDomain.size, counted: counted.filter(Boolean).length }, 202);
});

/**
 * `POST /v1/inbound/mta-sts`: the bridges' shared MTA-STS policy cache, one recipient domain's in
 * its platform-wide object. `{domain}` reads the live policy, `{domain, policy}` offers one a
 * bridge just fetched; both answer `{policy}` (null when there is none that has not expired). The
 * bridge still decides with core/mta-sts.ts's rules: this is a second-level cache it may skip.
 */
inbound.post("/mta-sts", signatureHeadersFirst, limitBody, async (c) => {
  const raw = await c.req.text();
  await assertSigned(c.env.WEBHOOK_SECRET, EDGE_MTA_STS_PATH, c.req.raw.headers, raw);
  const parsed = stsPolicyExchange.safeParse(readJson(c.req.raw.headers, raw));
  if (!parsed.success) throw validationError(parsed.error);
  const { policy } = parsed.data;
  const domain = parsed.data.domain.toLowerCase();
  const stub = tlsDomainStub(c.env, domain);
  return c.json({ policy: policy ? await stub.offerStsPolicy(domain, policy) : await stub.stsPolicy() }, 200);
});
