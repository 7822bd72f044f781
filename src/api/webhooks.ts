import { Hono } from "hono";
import { EDGE_EVENTS_PATH } from "../core/bridge.ts";
import { QUEUE_MESSAGE_MAX_BYTES, planQueueBatches } from "../core/queue.ts";
import { eventBatch, type CanonicalEvent } from "../core/schema.ts";
import { enqueueEvents } from "./enqueue.ts";
import { limitBody } from "./body.ts";
import { ApiError, assertSigned, readJson, validationError } from "../core/http.ts";
import { accountRuntime } from "../state/config-read.ts";
import type { AppEnv } from "./types.ts";
import { ingestMo } from "./mo.ts";
import { restRouteFor, signedUrlCandidates, statusEvent, twilioQuery, verifyTwilio } from "../webhooks/twilio.ts";

/** Twilio reads a reply from its webhook's answer: an empty TwiML document sends none. */
const EMPTY_TWIML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`;

/**
 * Platform feedback. The `bridge` posts canonical events (Standard Webhooks, its door key);
 * they are verified before anything is parsed, enqueued, and answered 202 before they
 * are applied, so a slow DO never makes a provider time out and redeliver.
 */
export const webhooks = new Hono<AppEnv>()
  /**
   * Twilio-compatible status callbacks (`?account&route&message`) and MO webhooks
   * (`?account&route`), verified with X-Twilio-Signature over the full URL and the sorted
   * POST parameters before anything else; 401 and nothing changed otherwise.
   */
  .post("/twilio", limitBody, async (c) => {
    const query = twilioQuery.safeParse(c.req.query());
    const route = query.success ? restRouteFor((await accountRuntime(c.env, query.data.account)).sections.sms, query.data) : null;
    // Form bodies are bytes to workerd; decode them as UTF-8 (what Twilio sends) ourselves.
    const raw = new TextDecoder().decode(await c.req.arrayBuffer());
    const params = [...new URLSearchParams(raw)];
    const urls = signedUrlCandidates(c.req.url, c.env.PUBLIC_URL);
    if (!query.success || !route || !(await verifyTwilio(route.authToken, urls, params, c.req.header("x-twilio-signature")))) {
      throw new ApiError(401, "invalid_signature", "X-Twilio-Signature does not match this URL and body for a configured REST route");
    }
    const form = Object.fromEntries(params);
    const now = new Date().toISOString();
    if (query.data.message && (form.MessageStatus ?? form.SmsStatus)) {
      const event = await statusEvent({ ...query.data, message: query.data.message }, form, now);
      if (event) {
        assertQueueable([event], "body");
        await enqueueEvents(c.env.EVENTS, [event]);
      }
      return c.body(null, 204);
    }
    if (form.Body === undefined || !form.From || !form.To || !form.MessageSid) {
      throw new ApiError(400, "validation_failed", "neither a status callback nor an inbound message", [
        { path: "body", message: "expected MessageStatus (with ?message=) or From, To, Body and MessageSid" },
      ]);
    }
    await ingestMo(c.env, query.data.account, {
      id: form.MessageSid,
      route: route.name,
      provider: "twilio",
      from: form.From,
      to: form.To,
      body: form.Body,
      receivedAt: now,
    });
    return c.body(EMPTY_TWIML, 200, { "content-type": "text/xml; charset=utf-8" });
  })
  .post("/bridge", limitBody, async (c) => {
    const raw = await c.req.text();
    await assertSigned(c.env.WEBHOOK_SECRET, EDGE_EVENTS_PATH, c.req.raw.headers, raw);
    const value = readJson(c.req.raw.headers, raw);
    const parsed = eventBatch.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    const receivedAt = new Date().toISOString();
    const events = parsed.data.events.map((event) => ({ ...event, receivedAt: event.receivedAt ?? receivedAt }));
    assertQueueable(events, "events");
    await enqueueEvents(c.env.EVENTS, events);
    return c.json({ accepted: events.length }, 202);
  });

/**
 * 413 event_too_large, naming each event a queue message cannot hold, before anything of the
 * request is enqueued (the events are all or none).
 */
function assertQueueable(events: CanonicalEvent[], path: string): void {
  const plan = planQueueBatches(events);
  if (plan.ok) return;
  throw new ApiError(
    413,
    "event_too_large",
    `an event is over the ${QUEUE_MESSAGE_MAX_BYTES}-byte limit of a queue message; nothing was enqueued`,
    plan.tooLarge.map(({ index, bytes }) => ({
      path: path === "events" ? `events.${index}` : path,
      code: "too_big",
      message: `the event is ${bytes} bytes as JSON (with receivedAt); at most ${QUEUE_MESSAGE_MAX_BYTES} fit`,
    })),
  );
}
