import { apnsTopicAllowed } from "../core/apns.ts";
import { sha256Hex, utf8 } from "../core/bytes.ts";
import { channelConfigured } from "../core/channels.ts";
import { emailSenderAllowed } from "../core/email.ts";
import { routesOf } from "../core/email-routes.ts";
import { canonicalJson, messageIdFor } from "../core/ids.ts";
import { tokenChannels, type SuppressionReason } from "../core/model.ts";
import { recipientKey, recipientOf } from "../core/recipient.ts";
import { sendRequest, type SendRequest } from "../core/schema.ts";
import { smsSenderAllowed } from "../core/sms/account.ts";
import { planSms, type SmsEncoding } from "../core/sms/segment.ts";
import { WEBPUSH_MAX_PLAINTEXT, endpointAllowed, parseAllowlist, payloadText } from "../core/webpush.ts";
import { accountRuntime } from "../state/config-read.ts";
import { messageStub, templateStub } from "../state/stubs.ts";
import { renderSend, templateSendOf, type StoredTemplate, type TemplateRef } from "../core/template.ts";
import type { AccountRuntime } from "../core/config/runtime.ts";
import type { CreateInput, CreateResult, RenderingFailed } from "../state/types.ts";
import { scheduleOf } from "../core/schedule.ts";
import { ApiError, tooDeep, validationError } from "../core/http.ts";
import { jsonValueDepthWithin } from "../core/json-depth.ts";
import { MAX_STORED_REQUEST_BYTES } from "../core/attachment.ts";

export type Accepted = {
  httpStatus: 200 | 202;
  body: {
    id: string;
    status: string;
    reason?: SuppressionReason | "rendering_failed";
    rendering?: RenderingFailed;
    segments?: number;
    encoding?: SmsEncoding;
  };
};

/**
 * Internal sends (keyword replies): a fixed idempotency key, and past the recipient's opt-out.
 * `templates`: a batch's templates, fetched once per name and version for all its items (and a
 * version-less name resolved once, so one batch renders one version).
 */
export type AcceptOptions = { idempotencyKey?: string; bypassSuppression?: boolean; templates?: TemplateCache };

export type TemplateCache = Map<string, Promise<StoredTemplate | null>>;

/** The stored template a send names, or 422: naming a template the account lacks is the caller's mistake. */
async function storedTemplate(env: Env, account: string, ref: TemplateRef, cache: TemplateCache | undefined): Promise<StoredTemplate> {
  const key = `${ref.name}@${ref.version ?? "latest"}`;
  let found = cache?.get(key);
  if (!found) {
    found = templateStub(env, account).get(ref.name, ref.version) as Promise<StoredTemplate | null>;
    cache?.set(key, found);
  }
  const template = await found;
  if (!template) {
    throw new ApiError(
      422,
      "template_not_found",
      `the account has no template ${ref.name}${ref.version ? ` version ${ref.version}` : ""}`,
      [
        {
          path: ref.version ? "template.version" : "template.name",
          message: "name a template of GET /v1/templates (and one of its versions)",
        },
      ],
    );
  }
  return template;
}

/**
 * Accepts one send: validate, check the channel can act on it, then create the message
 * in its MessageDO, which checks suppression and enqueues it (or, with a `sendAt` ahead, arms
 * its alarm for then). Throws ApiError otherwise.
 */
export async function acceptMessage(env: Env, account: string, value: unknown, options: AcceptOptions = {}): Promise<Accepted> {
  const { idempotencyKey } = options;
  // Before zod, canonicalJson or the DO's JSON.stringify walk it (readJson checked the text already).
  const depth = jsonValueDepthWithin(value);
  if (!depth.ok) throw tooDeep(depth);
  // The template form (core/template.ts) renders here, once per message, into an email send.
  const templated = templateSendOf(value);
  let request: SendRequest;
  let rendering: RenderingFailed | undefined;
  // sendAt's bounds before the account's configuration (400 before 422, as every other field);
  // with a key, a replay may still answer.
  const scheduled = (sendAt: string | undefined) => {
    const schedule = scheduleOf(sendAt, Date.now());
    if (schedule.kind === "invalid" && !idempotencyKey) throw sendAtError(schedule.message);
    return schedule;
  };
  let schedule: ReturnType<typeof scheduleOf>;
  if (templated) {
    schedule = scheduled(templated.sendAt);
    // The checks read channel, from and route: the template form has them as an email send does.
    assertSendable(env, await accountRuntime(env, account), templated as unknown as SendRequest);
    const rendered = renderSend(templated, await storedTemplate(env, account, templated.template, options.templates));
    // A failed render still makes the message (failed, never sent), so the customer sees it.
    request = rendered.request as SendRequest;
    if (!rendered.ok) rendering = { template: rendered.request.template, failure: rendered.failure };
  } else {
    const parsed = sendRequest.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    request = parsed.data;
    schedule = scheduled(request.sendAt);
    assertSendable(env, await accountRuntime(env, account), request);
  }

  // One SQLite row holds the request (Durable Object SQLite caps a row at 2 MB): a send whose
  // attachments and text together would not fit is refused before anything is made.
  const stored = utf8(JSON.stringify(request)).length;
  if (stored > MAX_STORED_REQUEST_BYTES) {
    throw new ApiError(413, "payload_too_large", `the message is ${stored} bytes as stored; at most ${MAX_STORED_REQUEST_BYTES}`, [
      { path: "attachments", message: "send smaller attachments, text or html" },
    ]);
  }

  const recipient = recipientOf(request);
  const key = await recipientKey(request.channel, recipient);
  const id = await messageIdFor(account, idempotencyKey);
  const stub = messageStub(env, account, id);
  const input: CreateInput = {
    id,
    account,
    request,
    recipientKey: key,
    // The raw token or endpoint never leaves the MessageDO: indexes see its hash.
    recipient: tokenChannels.has(request.channel) ? key : recipient,
    bodyHash: await sha256Hex(canonicalJson(value)),
    ...(options.bypassSuppression ? { bypassSuppression: true } : {}),
    ...(schedule.kind === "at" ? { sendAt: schedule.at } : {}),
    ...(rendering ? { rendering } : {}),
  };
  // RPC typing turns `unknown` fields into never: the shape is ours.
  let result: CreateResult;
  if (schedule.kind === "invalid") {
    // A sendAt that was ahead when the message was made is past for its replay: that replay still answers it.
    result = (await stub.create({ ...input, replayOnly: true })) as unknown as CreateResult;
    if (result.kind === "absent") throw sendAtError(schedule.message);
  } else {
    result = (await stub.create(input)) as unknown as CreateResult;
  }
  if (result.kind === "conflict") {
    throw new ApiError(409, "idempotency_conflict", "this Idempotency-Key was used with a different body");
  }
  if (result.kind === "absent") throw new Error("create answered absent without replayOnly");
  const { message, reason } = result;
  const failed = result.rendering;
  // SMS: the parts the body becomes (what the carrier bills), known before anything is queued.
  const plan = request.channel === "sms" ? planSms(request.body) : null;
  return {
    httpStatus: result.kind === "replay" ? 200 : 202,
    body: {
      id: message.id,
      status: message.status,
      ...(reason ? { reason } : {}),
      ...(failed ? { reason: "rendering_failed" as const, rendering: failed } : {}),
      ...(plan ? { segments: plan.segments, encoding: plan.encoding } : {}),
    },
  };
}

/** A `sendAt` of the right form at the wrong time: the same 400 as the schema's own refusals. */
export function sendAtError(message: string, path = "sendAt"): ApiError {
  return new ApiError(400, "validation_failed", "the request is invalid", [{ path, code: "invalid_value", message }]);
}

/** What valid JSON the platform still cannot act on (422), or a payload too large once encrypted (400). */
function assertSendable(env: Env, config: AccountRuntime, request: SendRequest): void {
  if (!channelConfigured(request.channel, env, config)) {
    throw new ApiError(422, "channel_not_configured", `the ${request.channel} channel has no provider configured in this deployment`);
  }
  if (request.channel === "email") {
    const allowed = emailSenderAllowed(
      config.sections.email,
      config.domains.map((d) => d.domain),
      request.from,
    );
    if (allowed === "no_config") throw new ApiError(422, "channel_not_configured", "the email channel is not configured for this account");
    if (allowed === "domain") {
      throw new ApiError(422, "sender_not_allowed", "the From domain is not one of this account's sending domains", [
        { path: "from", message: "use an address at one of the account's sending domains" },
      ]);
    }
    const routes = routesOf(config.sections.email!);
    if (request.route !== undefined && !routes.some((r) => r.name === request.route)) {
      throw new ApiError(422, "route_not_configured", `the account has no email route named ${request.route}`, [
        { path: "route", message: `one of: ${routes.map((r) => r.name).join(", ")}; or leave it out to use the account's routes` },
      ]);
    }
  }
  if (request.channel === "sms") {
    const allowed = smsSenderAllowed(config.sections.sms, request.from, request.route);
    if (allowed === "no_config") throw new ApiError(422, "channel_not_configured", "the sms channel is not configured for this account");
    if (allowed === "sender") {
      throw new ApiError(422, "sender_not_allowed", "this sender is not one of the account's SMS senders", [
        { path: "from", message: "use one of the numbers, short codes or sender ids configured for the account" },
      ]);
    }
    if (allowed === "route") {
      throw new ApiError(422, "route_not_configured", `the account has no ${request.route} route`, [
        { path: "route", message: "leave it out to use the account's routes in order" },
      ]);
    }
  }
  if (request.channel === "apns") {
    // An account with its own key pushes only to its own apps: what APNs would refuse with
    // TopicDisallowed (or, worse, accept for another app of the same team) stops here.
    const apns = config.sections.apns;
    if (apns && !apnsTopicAllowed(request.topic, apns.topics)) {
      throw new ApiError(422, "topic_not_allowed", "the topic is not one of this account's APNs topics", [
        {
          path: "topic",
          message: `use one of the topics of the account's apns section (${apns.topics.slice(0, 5).join(", ")}${apns.topics.length > 5 ? ", …" : ""}), or one of them with Apple's push-type suffix (.voip, .complication, .push-type.liveactivity, …)`,
        },
      ]);
    }
  }
  if (request.channel === "webpush") {
    if (!endpointAllowed(request.to.endpoint, parseAllowlist(env.WEBPUSH_ALLOWED_HOSTS))) {
      throw new ApiError(422, "endpoint_not_allowed", "the push endpoint's host or port is not a known push service", [
        {
          path: "to.endpoint",
          message: `${new URL(request.to.endpoint).host} is not on the push-service allowlist (port 443 only, unless an entry names another)`,
        },
      ]);
    }
    const size = utf8(payloadText(request.payload)).length;
    if (size > WEBPUSH_MAX_PLAINTEXT) {
      throw new ApiError(400, "validation_failed", "the request is invalid", [
        {
          path: "payload",
          code: "too_big",
          message: `payload is ${size} bytes; at most ${WEBPUSH_MAX_PLAINTEXT} fit in a 4096-byte encrypted push message`,
        },
      ]);
    }
  }
}
