/**
 * Resend signs its webhooks with Svix, which is Standard Webhooks under `svix-` header names:
 * HMAC-SHA256 over `${id}.${timestamp}.${body}` with a `whsec_` secret, `v1,<base64>` entries,
 * 5 minutes' tolerance. So the check is src/core/standard-webhooks.ts's, the headers renamed.
 */
import { z } from "zod";
import type { EventType } from "../core/model.ts";
import {
  isoTime,
  type NormalizeContext,
  type NormalizeResult,
  OUR_ID_KEY,
  ourId,
  type ProviderEvent,
  providerEvent,
  providerEventId,
} from "../core/provider-event.ts";
import * as standard from "./standard.ts";
import { classifySesBounce, smtpFacts } from "./ses.ts";
import { addressOf, compact, invalid } from "../core/esp/events.ts";

export type VerifyResult = standard.VerifyResult;

/** `now` is in milliseconds, as `Date.now()`; tests pass their own. Standard Webhooks' check, under Svix's header names. */
export function verify(input: { headers: Headers; rawBody: string; secret: string; now?: number }): Promise<VerifyResult> {
  const headers = new Headers();
  for (const name of ["id", "timestamp", "signature"]) {
    const value = input.headers.get(`svix-${name}`);
    if (value !== null) headers.set(`webhook-${name}`, value);
  }
  return standard.verify({ ...input, headers });
}

/*
 * normalize: one Resend webhook body, `{type, created_at, data}`, as canonical events. Types
 * and fields as Resend's webhook pages and its Node SDK's WebhookEventPayload list them.
 */

const PROVIDER = "resend";

const text = z.string().nullish();

const envelope = z.looseObject({ type: z.string().min(1), created_at: text, data: z.looseObject({}) });

/** An email event's data; tags arrive as `{name: value}`, and `[{name, value}]` is taken too. */
const emailData = z.looseObject({
  email_id: z.string().min(1).max(256),
  to: z.union([z.array(z.string()), z.string().transform((to) => [to])]),
  tags: z.union([z.array(z.looseObject({ name: z.string(), value: z.unknown() })), z.record(z.string(), z.unknown())]).nullish(),
  // diagnosticCode: the remote server's reply (a string, or an array of its lines).
  bounce: z.looseObject({ type: text, subType: text, message: text, diagnosticCode: z.unknown().optional() }).nullish(),
  click: z.looseObject({ link: text, ipAddress: text, userAgent: text, timestamp: text }).nullish(),
  failed: z.looseObject({ reason: text }).nullish(),
  suppressed: z.looseObject({ type: text, message: text }).nullish(),
});
type EmailData = z.infer<typeof emailData>;
const emailEvent = z.looseObject({ data: emailData });

/**
 * Resend's webhooks name the email, not which of its `to` the event is about (resend-python#68:
 * with several `to`, every recipient's event reaches all of them). What is about the message
 * (sent, scheduled, failed) and what Resend reports for the message as a whole (delivered,
 * delayed) fans out to every recipient. A bounce, complaint, suppression, open or click is one
 * reader's: with one recipient it is theirs; with several, crediting all would suppress or
 * count readers who did nothing, so it is skipped as ambiguous. lasthop sends one `to`.
 */
const EMAIL_EVENTS: Record<string, { type: EventType; reader?: true }> = {
  "email.sent": { type: "accepted" },
  // Held by Resend until its scheduled time: taken, not yet sent.
  "email.scheduled": { type: "queued" },
  "email.delivered": { type: "delivered" },
  "email.delivery_delayed": { type: "deferred" },
  // The name an older version of Resend's event-types page printed in its example.
  "email.delivered_delayed": { type: "deferred" },
  "email.failed": { type: "failed" },
  "email.bounced": { type: "bounced", reader: true },
  "email.complained": { type: "complained", reader: true },
  "email.suppressed": { type: "suppressed", reader: true },
  "email.opened": { type: "opened", reader: true },
  "email.clicked": { type: "clicked", reader: true },
};

/** Documented events about no message we sent: inbound mail, contacts, domains, the suppression list, inboxes. */
const NOT_MESSAGE_EVENTS = /^(?:email\.received$|contact\.|domain\.|suppression\.|inbox\.)/;

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const head = envelope.safeParse(body);
  if (!head.success) return invalid(head.error);
  const { type, created_at: createdAt } = head.data;
  const mapped = Object.hasOwn(EMAIL_EVENTS, type) ? EMAIL_EVENTS[type] : undefined;
  if (!mapped) {
    return {
      ok: true,
      events: [],
      skipped: [{ index: 0, type, reason: NOT_MESSAGE_EVENTS.test(type) ? "not_a_message_event" : "unknown_type" }],
    };
  }
  const parsed = emailEvent.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const { data } = parsed.data;
  const recipients = [...new Set(data.to.map(addressOf).filter((to): to is string => to !== undefined))];
  if (recipients.length === 0) return { ok: true, events: [], skipped: [{ index: 0, type, reason: "no_recipient" }] };
  if (mapped.reader && recipients.length > 1) return { ok: true, events: [], skipped: [{ index: 0, type, reason: "ambiguous_recipient" }] };
  const svixId = ctx.headers?.get("svix-id")?.trim() || undefined;
  const messageId = ourId(ourTag(data.tags));
  const events = await Promise.all(
    recipients.map(async (recipient): Promise<ProviderEvent> => {
      // svix-id is the same on every retry of one event; the recipient parts its fan-out.
      const own = svixId && recipients.length > 1 ? `${svixId}:${recipient}` : svixId;
      const id =
        own && own.length <= 248
          ? await providerEventId(PROVIDER, own)
          : await providerEventId(
              PROVIDER,
              undefined,
              data.email_id,
              type,
              recipient,
              createdAt ?? undefined,
              data.click?.link ?? undefined,
            );
      return providerEvent.parse({
        id,
        account: ctx.account,
        type: mapped.type,
        occurredAt: isoTime(createdAt, ctx.receivedAt),
        receivedAt: ctx.receivedAt,
        provider: PROVIDER,
        channel: "email",
        recipient,
        providerMessageId: data.email_id,
        ...(messageId ? { messageId } : {}),
        detail: detailOf(type, data, recipient),
      });
    }),
  );
  return { ok: true, events, skipped: [] };
}

function detailOf(type: string, data: EmailData, recipient: string): Record<string, unknown> {
  const { bounce, click, failed, suppressed } = data;
  if (type === "email.bounced") {
    // Resend is SES underneath and passes SES's bounceType and bounceSubType on. Its `message`
    // is Resend's own sentence about them, not the remote server's words, so it is not evidence.
    // A string in the email API, an array of the remote server's reply lines in the webhook docs.
    const code = bounce?.diagnosticCode;
    const lines = (Array.isArray(code) ? code : [code]).filter((l): l is string => typeof l === "string" && l.trim() !== "");
    const diagnosticCode =
      lines.length > 0
        ? lines
            .map((l) => l.trim())
            .join(" ")
            .slice(0, 1000)
        : undefined;
    const facts = smtpFacts(undefined, diagnosticCode);
    // Without a bounce object (Resend's payloads before it had one) the event keeps its documented
    // meaning: "the recipient's mail server permanently rejected the email".
    const verdict = classifySesBounce({ bounceType: bounce?.type ?? "Permanent", bounceSubType: bounce?.subType, ...facts, recipient });
    return compact({
      providerType: [type, bounce?.type, bounce?.subType].filter(Boolean).join("/"),
      ...verdict,
      bounceType: bounce?.type,
      bounceSubType: bounce?.subType,
      smtpCode: facts.smtpCode,
      enhancedCode: facts.enhancedCode,
      diagnostic: diagnosticCode,
      message: bounce?.message,
    });
  }
  if (type === "email.clicked") return compact({ providerType: type, url: click?.link, userAgent: click?.userAgent, ip: click?.ipAddress });
  if (type === "email.failed") return compact({ providerType: type, reason: failed?.reason });
  if (type === "email.suppressed") {
    return compact({
      providerType: [type, suppressed?.type].filter(Boolean).join("/"),
      suppressionType: suppressed?.type,
      message: suppressed?.message,
    });
  }
  return { providerType: type };
}

/** Our id among the tags, in either shape Resend has used for them. */
function ourTag(tags: EmailData["tags"]): unknown {
  if (Array.isArray(tags)) return tags.find((tag) => tag.name === OUR_ID_KEY)?.value;
  return tags?.[OUR_ID_KEY];
}
