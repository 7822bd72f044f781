/**
 * The request schemas the HTTP handlers (src/api) validate with that belong to no other
 * contract: query strings, small bodies, one header. They live here, runtime-neutral, so the
 * handlers and the OpenAPI document (src/api/openapi) read the same zod schema.
 */
import { z } from "zod";
import { channelParam } from "./schema.ts";

/** `Idempotency-Key` of POST /v1/messages and /v1/messages/batch. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

/** A page of a list whose cursor is a sequence number. */
const seqPage = {
  cursor: z.string().regex(/^\d+$/, "use nextCursor from a previous page").optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
};

/** `POST /v1/admin/accounts`. */
export const createAccountRequest = z.strictObject({ name: z.string().trim().min(1).max(200) });

/** `PATCH /v1/admin/accounts/:id`: rename, disable or re-enable. */
export const patchAccountRequest = z
  .strictObject({ name: z.string().trim().min(1).max(200).optional(), disabled: z.boolean().optional() })
  .refine((p) => p.name !== undefined || p.disabled !== undefined, "set name or disabled");

/** `GET /v1/admin/accounts`: the directory's cursor is opaque. */
export const accountListQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /v1/audit`. */
export const auditQuery = z.strictObject(seqPage);

/** `GET /v1/sms/inbound`. */
export const inboundListQuery = z.strictObject(seqPage);

/** `GET /v1/stats`: hourly buckets between `from` and `to` (default: the last 24 hours). */
export const statsQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  channel: channelParam.optional(),
});

/** `GET /v1/suppressions`: the cursor is opaque (base64 of the last row's position). */
export const suppressionListQuery = z.strictObject({
  channel: channelParam.optional(),
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `POST /v1/suppressions/check`. */
export const suppressionCheckRequest = z.strictObject({
  channel: channelParam,
  recipients: z.array(z.string().trim().min(1).max(2048)).min(1).max(1000),
  /** SMS: the sender the list is for; a STOP to this sender suppresses as surely as a dead number. */
  from: z.string().trim().min(1).max(32).optional(),
});

/** `POST /v1/push/webpush/keys`. */
export const vapidRequest = z.strictObject({ subject: z.string().regex(/^(mailto:|https:)/, "a mailto: or https: URL (RFC 8292 §2.1)") });

const time = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

/** `GET /v1/webhook-endpoints/:id/attempts`. */
export const attemptsQuery = z.strictObject({
  status: z.enum(["succeeded", "failed"]).optional(),
  since: time.optional(),
  until: time.optional(),
  ...seqPage,
});

/** `POST /v1/webhook-endpoints/:id/recover`: every failed delivery of the window is sent again. */
export const recoverRequest = z
  .strictObject({ since: time, until: time.optional() })
  .refine((b) => b.until === undefined || b.until > b.since, {
    message: "until must be after since",
    path: ["until"],
  });

/** `POST /v1/inbound/email`: one message the bridge's inbound SMTP server took, per recipient. */
export const inboundEmailRequest = z.strictObject({
  to: z.string().min(3),
  from: z.string(),
  raw: z.base64(),
});

/** At most this many messages per batch: the edge parses them all inside one request's CPU budget. */
export const INBOUND_EMAIL_BATCH_MAX = 100;

/**
 * `POST /v1/inbound/email` with several messages at once (the bridge batches what arrives
 * together): each gets its own result, in order, and all are enqueued together or not at all.
 */
export const inboundEmailBatchRequest = z.strictObject({
  messages: z.array(inboundEmailRequest).min(1).max(INBOUND_EMAIL_BATCH_MAX),
});
