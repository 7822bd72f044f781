/**
 * What the HTTP API answers, as zod schemas: the shapes the handlers of src/api build from the
 * Durable Objects' views, written down once for the OpenAPI document (src/api/openapi) and the
 * typed client of the end-to-end tests. The handlers do not parse their own answers; the Worker
 * tests (test/worker/openapi.test.ts) check these against the state types they are built from.
 */
import { z } from "zod";
import { EMAIL_ROUTE_TYPES, splitShare, tagRule } from "./email-routes.ts";
import { channels, deliveryStates, eventTypes, suppressionReasons } from "./model.ts";
import { scope } from "./config/keys.ts";

const time = z.string().describe("ISO 8601 time");
const nextCursor = z.string().nullable().describe("pass as `cursor` for the next page; null on the last one");

/** The one error body of every 4xx and 5xx: `{error:{code,message,details}}`. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string().describe("machine-readable: validation_failed, unauthorized, insufficient_scope, not_found, rate_limited, …"),
    message: z.string(),
    details: z.array(
      z.object({
        path: z.string().optional().describe("the field, dotted (`to.endpoint`, `events.3`), or a header's name"),
        code: z.string().optional(),
        message: z.string(),
      }),
    ),
  }),
});

/** `GET /`. */
export const rootResponse = z.object({ name: z.literal("lasthop"), api: z.literal("/v1") });
/** `GET /healthz`. */
export const healthResponse = z.object({ ok: z.literal(true) });

/** A template as stored (`/v1/templates`): one version. */
export const templateView = z.object({
  name: z.string(),
  version: z.number().int().describe("1 when made; each PUT adds one"),
  subject: z.string(),
  text: z.string().optional(),
  html: z.string().optional(),
  createdAt: time.describe("when this version was saved"),
});

/** `GET /v1/templates`: each live template at its latest version, without bodies. */
export const templateList = z.object({
  data: z.array(
    z.object({
      name: z.string(),
      version: z.number().int().describe("the latest"),
      subject: z.string(),
      createdAt: time,
      updatedAt: time.describe("when the latest version was saved"),
    }),
  ),
});

const templateUse = z
  .object({ name: z.string(), version: z.number().int() })
  .describe("the stored template and version it was rendered from");

/** A template that did not render for one recipient (core/template.ts RenderFailure). */
export const renderingFailed = z.object({
  template: templateUse,
  failure: z.object({
    kind: z.enum(["syntax", "missing_variable", "not_scalar", "subject_header", "too_large"]),
    part: z.enum(["subject", "text", "html"]),
    message: z.string(),
    variable: z.string().optional().describe("the variable tag's name"),
    line: z.number().int().optional().describe("1-based line of the tag in that part of the template"),
  }),
});

/** One send accepted (202), replayed by its Idempotency-Key (200), or suppressed before it was queued. */
export const sendAccepted = z.object({
  id: z.uuid().describe("the message id"),
  status: z
    .enum(deliveryStates)
    .describe("`queued`; `scheduled` with a `sendAt` ahead; or `suppressed` (with `reason`) when the recipient is on the suppression list"),
  reason: z
    .union([z.enum(suppressionReasons), z.literal("rendering_failed")])
    .optional()
    .describe("why the message is `suppressed`; `rendering_failed`: its template did not render for this recipient (`failed`, never sent)"),
  rendering: renderingFailed.optional().describe("with reason rendering_failed: the template and what failed"),
  segments: z.number().int().optional().describe("SMS: the parts the body becomes (what the carrier bills)"),
  encoding: z.enum(["gsm7", "ucs2"]).optional().describe("SMS: the alphabet of those parts"),
});

/** `POST /v1/messages/batch`: one result per item, in order; an invalid item never fails the others. */
export const batchResponse = z.object({
  batchId: z
    .uuid()
    .describe("names the batch for POST /v1/messages/batches/{batchId}/cancel (the same on a replay with the same Idempotency-Key)"),
  results: z.array(z.union([sendAccepted, errorResponse])),
});

/** `POST /v1/messages/batches/:batchId/cancel`: what the cancel did to the batch's messages. */
export const batchCancelResponse = z.object({
  batchId: z.uuid(),
  canceled: z.number().int().describe("members now canceled (including any canceled before)"),
  notCancelable: z.number().int().describe("members that had gone already (or were suppressed at create)"),
});

export const timelineEvent = z.object({
  id: z.string(),
  type: z.enum(eventTypes),
  occurredAt: time,
  receivedAt: time,
  provider: z.string(),
  detail: z.record(z.string(), z.unknown()),
});

/** `GET /v1/messages/:id`: the message and its timeline. */
export const messageView = z.object({
  id: z.uuid(),
  channel: z.enum(channels),
  to: z.string().describe("the recipient; a push token or endpoint is shown as its SHA-256 hex"),
  status: z.enum(deliveryStates),
  attempts: z.number().int(),
  createdAt: time,
  updatedAt: time,
  providerMessageId: z.string().optional(),
  external: z.object({ provider: z.string() }).optional().describe("sent elsewhere: lasthop learnt of it from this provider's events"),
  metadata: z.record(z.string(), z.unknown()).optional(),
  template: templateUse.optional(),
  route: z.string().optional().describe("the route that carried the message (or may have: it is pinned there)"),
  receipts: z
    .array(
      z.object({
        segment: z.number().int(),
        smscId: z.string(),
        stat: z.string().optional(),
        err: z.string().optional(),
        at: time.optional(),
      }),
    )
    .optional()
    .describe("SMS over SMPP: one entry per part, with its latest receipt"),
  receiptDeadline: time.optional().describe("SMS while accepted: with no receipt by then the message ends expired"),
  sendAt: time.optional().describe("a scheduled send: when it goes (or went)"),
  events: z.array(timelineEvent),
});

/** One row of `GET /v1/messages`. */
export const messageSearchRow = z.object({
  id: z.uuid(),
  createdAt: time,
  updatedAt: time,
  channel: z.enum(channels),
  status: z.string(),
  to: z.string(),
  tags: z.array(z.string()),
  route: z.string().optional(),
  provider: z.string().optional(),
  providerMessageId: z.string().optional(),
});
export const messageSearchPage = z.object({ data: z.array(messageSearchRow), nextCursor });

/** One attempt to deliver an event to a webhook endpoint. */
export const attemptView = z.object({
  id: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  messageId: z.string().nullable(),
  at: time,
  result: z.enum(["succeeded", "failed", "in_flight"]),
  statusCode: z.number().int().nullable(),
  durationMs: z.number().nullable(),
  response: z.string().nullable().describe("the start of the endpoint's answer"),
  error: z.string().nullable(),
  trigger: z.enum(["scheduled", "manual", "test"]),
  nextAttemptAt: time.nullable(),
});
export const attemptPage = z.object({ data: z.array(attemptView), nextCursor });

/** `GET /v1/messages/:id/deliveries`: the message's events at each of the account's endpoints. */
export const messageDeliveries = z.object({
  data: z.array(
    z.object({
      endpointId: z.string(),
      url: z.string(),
      eventId: z.string(),
      eventType: z.string(),
      status: z.enum(["pending", "succeeded", "failed"]),
      attempts: z.array(attemptView),
    }),
  ),
});

export const suppressionEntry = z.object({
  channel: z.enum(channels),
  recipientKey: z.string(),
  recipient: z.string(),
  reason: z.enum(suppressionReasons),
  at: time,
  sourceEventId: z.string().optional(),
  messageId: z.string().optional(),
});
export const suppressionPage = z.object({ data: z.array(suppressionEntry), nextCursor });
export const suppressionCheckResponse = z.object({
  data: z.array(
    z.object({
      recipient: z.string(),
      suppressed: z.boolean(),
      reason: z.enum(suppressionReasons).optional(),
      at: time.optional(),
      from: z.string().optional().describe("SMS: the sender the recipient opted out of, when that is the entry"),
    }),
  ),
  suppressed: z.number().int().describe("how many of the recipients are suppressed"),
});

/** `GET /v1/stats`. */
export const statsResponse = z.object({
  from: time,
  to: time,
  buckets: z.array(
    z.object({
      hour: time,
      channel: z
        .union([z.enum(channels), z.literal("none")])
        .describe("`none`: events that reached no message (`unlinked`, `event_dead_lettered`)"),
      counts: z
        .record(z.string(), z.number().int())
        .describe(
          "per outcome: each state messages entered (queued, accepted, delivered, bounced…), and per feedback event bounce_hard, bounce_soft, bounce_unclassified and complained",
        ),
      routes: z.record(z.string(), z.record(z.string(), z.number().int())).optional().describe("the same counts per route"),
    }),
  ),
});

const routeView = z.object({
  name: z.string(),
  type: z.string(),
  circuit: z.object({
    state: z.enum(["closed", "open", "half_open"]),
    failures: z.number().int(),
    openedAt: time.optional(),
  }),
});
/** `GET /v1/routes`: the account's routes in the order they are tried, each with its circuit. */
export const routeStatusResponse = z.object({
  email: z.array(routeView.extend({ type: z.enum(EMAIL_ROUTE_TYPES) })),
  sms: z.array(routeView),
  rules: z.array(tagRule).optional(),
  split: z.array(splitShare).optional(),
});

const dayCounts = z.object({
  used: z.number().describe("messages the pool admitted on this address today (what its warm-up cap counts)"),
  sent: z.number().describe("answered by the receiving MTA: accepted (2xx) or refused (5xx) in the session"),
  deferred: z.number().describe("answered 4xx (or not reached) by the receiving side"),
  bounced: z.number().describe("refused with 5xx at the relay, and bounces that came back later"),
  complaints: z.number(),
});
/** One pool of `GET /v1/email/pools`: its addresses today, its destinations' rates in force. */
export const poolView = z.object({
  pool: z.string().describe("the pool's name; `default` is the bridge's own address"),
  day: z.string().describe("the UTC day the counts are of"),
  addresses: z.array(
    z.object({
      ip: z.string().nullable().describe("null: the bridge's own address"),
      dailyCap: z.number().nullable().describe("today's warm-up cap; null when the address is warm"),
      warming: z.boolean(),
      today: dayCounts,
    }),
  ),
  destinations: z.array(
    z.object({
      name: z.string(),
      perMinute: z.number().describe("the configured rate"),
      ratePerMinute: z.number().describe("the rate in force: lower after throttling replies, recovering each quiet minute"),
      concurrency: z.number().nullable(),
    }),
  ),
});
export type PoolView = z.infer<typeof poolView>;
export const poolsResponse = z.object({ data: z.array(poolView) });

/** `GET /v1/sms/inbound`. */
export const inboundSms = z.object({
  id: z.string(),
  route: z.string(),
  provider: z.string(),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  keyword: z.string().nullable(),
  replyId: z.string().nullable(),
  receivedAt: time,
});
export const inboundSmsPage = z.object({ data: z.array(inboundSms), nextCursor });

/** An API key as lists show it: never the key itself. */
export const keyRecord = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(scope),
  ratePerSecond: z.number().int(),
  createdAt: time,
  lastUsedAt: time.nullable(),
});
export const keyList = z.object({ data: z.array(keyRecord) });
/** The answer that makes a key: the only time `key` is shown. */
export const keyCreated = keyRecord.extend({ key: z.string().describe("the API key: shown in this answer only") });

export const auditEntry = z.object({
  seq: z.number().int(),
  at: time,
  actor: z.string().describe("a key id, `admin` or `seed`"),
  action: z.string(),
  target: z.string(),
  change: z.unknown().describe("what changed, secrets masked"),
});
export const auditPage = z.object({ data: z.array(auditEntry), nextCursor });

export const accountInfo = z.object({ id: z.string(), name: z.string(), createdAt: time, disabled: z.boolean() });
export const accountList = z.object({ data: z.array(accountInfo), nextCursor });
export const accountCreated = accountInfo.extend({ apiKey: keyCreated });

const domainRecord = z.object({
  type: z.enum(["TXT", "MX", "CNAME"]),
  name: z.string(),
  value: z.string(),
  priority: z.number().int().optional(),
  purpose: z.enum(["dkim", "return_path", "spf", "dmarc"]),
  required: z.boolean().describe("whether the domain is verified only with this record in place"),
  status: z.enum(["pending", "verified", "missing", "mismatch"]),
  found: z.array(z.string()).optional().describe("what DNS answered at the last check"),
});
export const domainView = z.object({
  domain: z.string(),
  status: z.enum(["pending", "verified"]),
  records: z.array(domainRecord),
  createdAt: time,
  verifiedAt: time.nullable(),
  checkedAt: time.nullable(),
});
export const domainList = z.object({ data: z.array(domainView) });

export const endpointInfo = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string().nullable(),
  eventTypes: z.array(z.string()).nullable(),
  channels: z.array(z.enum(channels)).nullable(),
  rateLimitPerSecond: z.number().int().nullable(),
  enabled: z.boolean(),
  disabledReason: z.enum(["gone", "failing", "manual"]).nullable(),
  disabledAt: time.nullable(),
  createdAt: time,
  updatedAt: time,
  secretRotatedAt: time.nullable(),
});
export const endpointList = z.object({ data: z.array(endpointInfo) });
/** Creation and rotation: the only answers that show the signing secret. */
export const endpointWithSecret = endpointInfo.extend({ secret: z.string().describe("`whsec_…`: shown in this answer only") });
export const endpointTestResponse = z.object({ attempt: attemptView });
export const endpointRecoverResponse = z.object({ recovered: z.number().int().describe("deliveries scheduled again") });
export const endpointResendResponse = z.object({ resent: z.string().describe("the event id") });

/** `POST /v1/webhooks/bridge`. */
export const eventsAccepted = z.object({ accepted: z.number().int() });

/** `POST /v1/webhooks/{provider}/{account}`: events enqueued, or an SNS handshake's answer. */
export const providerWebhookResponse = z.union([
  z.object({
    accepted: z.number().int(),
    skipped: z
      .array(z.object({ index: z.number().int(), type: z.string(), reason: z.string() }))
      .describe("items of the body that are no event of ours"),
  }),
  z.object({ confirmed: z.string().describe("the SNS topic") }),
  z.object({ unsubscribed: z.string().describe("the SNS topic") }),
]);

/** `POST /v1/inbound/email`. */
export const inboundEmailResponse = z.object({
  outcome: z.enum(["enqueued", "unlinked"]),
  kind: z.string().describe("what the message was: dsn, arf, auto_reply, …"),
  events: z.number().int().optional(),
});

/** `POST /v1/inbound/email` with `messages`: one result per message, in order; not_ours is the only per-message refusal. */
export const inboundEmailBatchResponse = z.object({
  results: z.array(
    z.union([
      inboundEmailResponse,
      z.object({ error: z.object({ code: z.literal("not_ours"), message: z.string() }) }).describe("no account owns the address"),
    ]),
  ),
});
export type InboundEmailBatchResponse = z.infer<typeof inboundEmailBatchResponse>;

/** `POST /v1/inbound/sms`: a receipt's fate, or an MO's. */
export const inboundSmsResponse = z.union([
  z.object({ outcome: z.enum(["applied", "duplicate", "parked", "unknown"]) }),
  z.object({
    outcome: z.enum(["recorded", "duplicate"]),
    keyword: z.enum(["stop", "start", "help"]).nullable(),
    replyId: z.string().optional(),
  }),
]);

/** DELETE /v1/recipients/{channel}/{recipient}: what one request erased (api/erasure.ts). */
export const erasureResult = z.object({
  done: z.boolean().describe("false: more messages remained than one request erases; call again"),
  messages: z.number().int().describe("messages erased whole (row, timeline, body, search row, event-stream deliveries)"),
  inbound: z.number().int().describe("MO messages erased (SMS)"),
  suppressions: z.number().int().describe("suppression entries kept under the recipient's hash alone"),
});
export type ErasureResult = z.infer<typeof erasureResult>;

/** GET /v1/bridge/health: the shared bridge in totals (api/bridge-health.ts). */
export const bridgeHealthResponse = z.union([
  z.object({ configured: z.literal(false) }),
  z.object({ configured: z.literal(true), reachable: z.literal(false), error: z.string() }),
  z.object({
    configured: z.literal(true),
    reachable: z.literal(true),
    apns: z.object({ enabled: z.boolean(), sessions: z.number().int() }),
    smtp: z.object({ connections: z.number().int() }),
    smpp: z.object({ routes: z.number().int(), binds: z.number().int(), up: z.number().int() }).nullable(),
    inFlight: z.number().nullable().describe("batches the bridge is working on; null when its metrics do not say"),
  }),
]);
export type BridgeHealth = z.infer<typeof bridgeHealthResponse>;

/** GET /v1/admin/meter: the cost instrumentation's counts (src/state/meter.ts), platform-wide. */
export const meterResponse = z.object({
  counts: z
    .record(z.string(), z.number())
    .describe(
      "counts since this runtime started: worker.<handler> invocations, do.<BINDING> requests (and per method, .alarm), queue.write/read/delete operations (per 64 KB), subrequest(.<host>), sql.read/sql.write rows",
    ),
});
