// The email providers' send APIs (issue 15), on the control server, one path prefix each:
//   POST /sendgrid/v3/mail/send                 Authorization: Bearer <apiKey>; JSON v3 mail/send
//        -> 202, empty body, X-Message-Id; 401/400/413/429 as {"errors":[{message, field, help}]}
//   POST /ses/v2/email/outbound-emails          AWS SigV4 (service ses, the sandbox's region), verified
//        with the aws4 package over what was received; JSON SendEmail (Simple, Raw or Template content)
//        -> 200 {"MessageId"}; errors {"message"} with x-amzn-ErrorType, as AWS's REST-JSON services answer
//        (403 InvalidSignatureException for a signature that does not match, with the canonical string and
//        string-to-sign, or an expired / mis-scoped one; UnrecognizedClientException, MissingAuthenticationTokenException,
//        IncompleteSignatureException;
//        400 BadRequestException, MessageRejected; 429 TooManyRequestsException)
//   POST /mailgun/v3/{domain}/messages          HTTP Basic api:<apiKey>; multipart/form-data or urlencoded
//   POST /mailgun/v3/{domain}/messages.mime     (form field `message`: the MIME message)
//        -> 200 {"id":"<…@domain>","message":"Queued. Thank you."}; 401 text "Forbidden"; 400 {"message"}
//   POST /postmark/email                        X-Postmark-Server-Token; JSON
//        -> 200 {To, SubmittedAt, MessageID, ErrorCode: 0, Message: "OK"}; 401/422/429 {ErrorCode, Message}
//   POST /resend/emails                         Authorization: Bearer re_…; JSON; Idempotency-Key honoured
//        -> 200 {"id"}; errors {statusCode, message, name}
// Credentials are random per start (config()). Every accepted message is kept (messages()) with
// the provider's id and ours (the `lasthop_id` custom arg / tag / user variable / metadata) and
// recorded in the ReceivedStore as channel "email" with `provider`.
//
// Words in a recipient's address choose the outcome: "throttle" -> the provider's 429 the first
// time that address is sent to (per provider, since start or a clear); "inactive" -> refused where
// the provider refuses at send time (SES MessageRejected, Postmark 406), accepted elsewhere;
// after acceptance, when the webhook senders have a target, the provider's signed webhook:
// "bounce" -> bounce, "soft" -> soft_bounce, "complain" -> delivered then complaint, "open" ->
// delivered then open, "inactive" -> bounce, else delivered. A webhook answered 5xx or 429, or
// not answered, is posted again (5 tries, from 250 ms, doubling), as the providers retry theirs.
//
// Behaviours (setBehaviour): "503" answers the provider's own 503 before reading the request;
// "hang" reads the request and never answers (until the client leaves, at most 120 s); "drop"
// reads it and destroys the socket; each for `times` requests or until set back to "ok".
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import aws4 from "aws4";
import { BehaviourSlot, drop, Hanging, type SendStats } from "./behaviour.ts";
import { CappedMap, CappedSet } from "./capped.ts";
import { readBody } from "./http.ts";
import type { EmitInput, ProviderWebhooks, WebhookEvent } from "./provider-webhooks.ts";
import { namedAttachmentsMissing, receivedAttachments, sendgridAttachmentErrors, type ReceivedAttachment } from "./esp-attachments.ts";
import type { ReceivedStore } from "./store.ts";

export const ESP_PROVIDERS = ["sendgrid", "ses", "mailgun", "postmark", "resend"] as const;
export type EspProvider = (typeof ESP_PROVIDERS)[number];
export const BEHAVIOURS = ["ok", "503", "hang", "drop"] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export const OUR_ID = "lasthop_id";
export const DEFAULT_SES_REGION = "us-east-1";
/** The sandbox's body limit for every provider (real ones allow more; 413 beyond it). */
/** Past lasthop's largest send (core/attachment.ts): a raw MIME of ~2.7 MB is ~3.6 MB as SES base64. */
export const MAX_ESP_BODY_BYTES = 8 * 1024 * 1024;
const SIGV4_SKEW_MS = 15 * 60_000;
const WEBHOOK_DELAY_MS = 50;
/** Tries of one webhook (SendGrid and Postmark retry for hours; the sandbox, briefly). */
const WEBHOOK_RETRY = { tries: 5, firstBackoffMs: 250 };

export function isEspProvider(value: unknown): value is EspProvider {
  return typeof value === "string" && (ESP_PROVIDERS as readonly string[]).includes(value);
}

export type EspConfig = {
  sendgrid: { baseUrl: string; apiKey: string };
  ses: { baseUrl: string; region: string; accessKeyId: string; secretAccessKey: string };
  mailgun: { baseUrl: string; apiKey: string; domain: string };
  postmark: { baseUrl: string; serverToken: string };
  resend: { baseUrl: string; apiKey: string };
};

export type EspMessage = {
  provider: EspProvider;
  /** The provider's id of the message, as its answer gave it. */
  messageId: string;
  to: string[];
  from: string | null;
  subject: string | null;
  /** Our id (lasthop_id) when the request carried it. */
  lasthopId: string | null;
  at: string;
  contentType: string | null;
  /** The request body as received (utf8). */
  raw: string;
  /** The attachments received, read as this provider documents them (sandbox/esp-attachments.ts). */
  attachments: ReceivedAttachment[];
};

export type EspStats = Record<EspProvider, SendStats & { webhooksSent: number; webhooksFailed: number }>;

/** A provider's answer, and the message to keep when it accepted one. */
export type Answer = {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  accepted?: Omit<EspMessage, "provider" | "at" | "raw" | "contentType" | "attachments">;
};

export type Request = { method: string; path: string; headers: IncomingMessage["headers"]; body: Buffer; oversized: boolean };

type Creds = { sendgrid: string; ses: { accessKeyId: string; secretAccessKey: string }; mailgun: string; postmark: string; resend: string };

const emptyStats = () =>
  Object.fromEntries(
    ESP_PROVIDERS.map((p) => [
      p,
      { requests: 0, accepted: 0, refused: 0, unavailable: 0, hung: 0, dropped: 0, webhooksSent: 0, webhooksFailed: 0 },
    ]),
  ) as EspStats;

export class EspService {
  readonly #store: ReceivedStore;
  readonly #webhooks: ProviderWebhooks | null;
  readonly #region: string;
  readonly #creds: Creds;
  readonly #messages: EspMessage[] = [];
  readonly #throttled = new CappedSet<string>();
  /** Mailgun's events by Message-ID (bare), as its webhooks carry them: what its Events API answers. */
  readonly #mailgunEvents = new Map<string, unknown[]>();
  /** Per provider: build its webhooks (Mailgun's still listed by its Events API) but post none. */
  readonly #dropWebhooks = Object.fromEntries(ESP_PROVIDERS.map((provider) => [provider, false])) as Record<EspProvider, boolean>;
  readonly #idempotency = new CappedMap<string, { hash: string; id: string }>();
  readonly #behaviour = Object.fromEntries(ESP_PROVIDERS.map((provider) => [provider, new BehaviourSlot<Behaviour>("ok")])) as Record<
    EspProvider,
    BehaviourSlot<Behaviour>
  >;
  readonly #hanging = new Hanging();
  readonly #abort = new AbortController();
  #stats: EspStats = emptyStats();
  #origin = "http://127.0.0.1";

  constructor(store: ReceivedStore, webhooks: ProviderWebhooks | null, opts: { sesRegion?: string } = {}) {
    this.#store = store;
    this.#webhooks = webhooks;
    this.#region = opts.sesRegion ?? DEFAULT_SES_REGION;
    this.#creds = {
      sendgrid: `SG.${randomBytes(16).toString("base64url")}.${randomBytes(32).toString("base64url")}`,
      ses: {
        accessKeyId: `AKIA${randomBytes(10).toString("hex").toUpperCase().slice(0, 16)}`,
        secretAccessKey: randomBytes(30).toString("base64"),
      },
      mailgun: `key-${randomBytes(16).toString("hex")}`,
      postmark: randomUUID(),
      resend: `re_${randomBytes(18).toString("base64url")}`,
    };
    store.onClear((channel) => {
      if (channel === undefined || channel === "email") this.clear();
    });
  }

  setOrigin(origin: string): void {
    this.#origin = origin;
  }

  config(): EspConfig {
    const o = this.#origin;
    return {
      sendgrid: { baseUrl: `${o}/sendgrid`, apiKey: this.#creds.sendgrid },
      ses: { baseUrl: `${o}/ses`, region: this.#region, ...this.#creds.ses },
      mailgun: { baseUrl: `${o}/mailgun`, apiKey: this.#creds.mailgun, domain: "mg.lasthop.test" },
      postmark: { baseUrl: `${o}/postmark`, serverToken: this.#creds.postmark },
      resend: { baseUrl: `${o}/resend`, apiKey: this.#creds.resend },
    };
  }

  messages(provider?: EspProvider): EspMessage[] {
    return this.#messages.filter((m) => provider === undefined || m.provider === provider);
  }

  stats(): EspStats {
    return structuredClone(this.#stats);
  }

  clear(): void {
    this.#messages.length = 0;
    this.#throttled.clear();
    this.#idempotency.clear();
    this.#stats = emptyStats();
  }

  setBehaviour(
    provider: EspProvider,
    mode: Behaviour,
    times?: number,
    seconds?: number,
  ): { provider: EspProvider; mode: Behaviour; remaining: number | null; until?: string } {
    this.#behaviour[provider].set(mode, times, seconds);
    return this.behaviour(provider);
  }

  behaviour(provider: EspProvider): { provider: EspProvider; mode: Behaviour; remaining: number | null; until?: string } {
    return { provider, ...this.#behaviour[provider].current() };
  }

  close(): Promise<void> {
    this.#abort.abort();
    this.#hanging.destroyAll();
    return Promise.resolve();
  }

  /** One request to a provider's send API: behaviour, body, the provider's rules, the answer. */
  async serve(provider: EspProvider, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const stats = this.#stats[provider];
    stats.requests += 1;
    const mode = this.#behaviour[provider].take();
    if (mode === "503") {
      stats.unavailable += 1;
      return write(res, { ...unavailable(provider), headers: { ...unavailable(provider).headers, connection: "close" } });
    }
    const body = await readBody(req, MAX_ESP_BODY_BYTES);
    if (mode === "hang") {
      stats.hung += 1;
      return this.#hanging.hold(res);
    }
    if (mode === "drop") {
      stats.dropped += 1;
      return drop(req);
    }
    const request: Request = {
      method: req.method ?? "POST",
      path: req.url ?? url.pathname,
      headers: req.headers,
      body: body.bytes,
      oversized: body.oversized,
    };
    const answer = await this.#rules[provider](request, url);
    if (answer.accepted) {
      const message: EspMessage = {
        provider,
        ...answer.accepted,
        at: new Date().toISOString(),
        contentType: header(req.headers, "content-type"),
        raw: body.bytes.toString("utf8"),
        attachments: await receivedAttachments(provider, header(req.headers, "content-type") ?? "", body.bytes),
      };
      this.#keep(message, answer.status);
    } else {
      stats.refused += 1;
    }
    write(res, answer);
  }

  #keep(message: EspMessage, status: number): void {
    this.#messages.push(message);
    if (this.#messages.length > 10_000) this.#messages.shift();
    this.#stats[message.provider].accepted += 1;
    this.#store.record<"email">({
      channel: "email",
      provider: message.provider,
      providerMessageId: message.messageId,
      to: message.to.join(", "),
      status,
      outcome: "accepted",
      headers: { mailFrom: message.from ?? "", rcptTo: message.to, tls: true, helo: `${message.provider}-api` },
      payload: message.raw,
    });
    const target = this.#webhooks?.target;
    if (!this.#webhooks || !target) return;
    const webhooks = this.#webhooks;
    for (const recipient of message.to) {
      const inputs: EmitInput[] = eventsFor(recipient).map((event) => ({
        provider: message.provider,
        event,
        recipient: bareAddress(recipient),
        providerMessageId: webhookMessageId(message),
        ...(message.lasthopId ? { lasthopId: message.lasthopId } : {}),
      }));
      const signal = this.#abort.signal;
      (async () => {
        // In order, as the provider sends them: an open never comes before its delivery.
        for (const input of inputs) {
          await sleep(WEBHOOK_DELAY_MS, undefined, { signal });
          // As the providers do, a webhook lasthop refuses (5xx) or does not answer is posted again.
          const request = webhooks.build(input);
          if (message.provider === "mailgun") this.#keepMailgunEvent(request.payload);
          if (this.#dropWebhooks[message.provider]) continue;
          const result = await webhooks.emit(input, { ...WEBHOOK_RETRY, signal }, request);
          if (result.status >= 200 && result.status < 300) this.#stats[message.provider].webhooksSent += 1;
          else this.#stats[message.provider].webhooksFailed += 1;
        }
      })().catch(() => {
        if (!signal.aborted) this.#stats[message.provider].webhooksFailed += 1;
      });
    }
  }

  /** Whether the provider's outcome webhooks are posted (`false`: built, Mailgun's listed by its Events API, none sent). */
  setDropWebhooks(provider: EspProvider, drop: boolean): { provider: EspProvider; dropWebhooks: boolean } {
    this.#dropWebhooks[provider] = drop;
    return { provider, dropWebhooks: drop };
  }

  #keepMailgunEvent(payload: unknown): void {
    const data = (payload as { "event-data"?: { message?: { headers?: { "message-id"?: string } } } })["event-data"];
    const id = data?.message?.headers?.["message-id"];
    if (!data || !id) return;
    const list = this.#mailgunEvents.get(id) ?? [];
    list.push(data);
    this.#mailgunEvents.set(id, list);
    // Bounded as the received store is: the oldest message's events go first.
    if (this.#mailgunEvents.size > 10_000) this.#mailgunEvents.delete(this.#mailgunEvents.keys().next().value!);
  }

  /**
   * Mailgun's Events API, `GET /v3/{domain}/events?message-id=` (Basic api:<key>, 401 "Forbidden"):
   * `{items, paging}`, the events its webhooks carried (or would have, when dropped) for that
   * message, oldest first, the same ids and shapes.
   */
  mailgunEventsPage(authorization: string | undefined, url: URL): Answer {
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "")?.[1];
    const decoded = basic === undefined ? "" : Buffer.from(basic, "base64").toString("utf8");
    if (!same(decoded, `api:${this.#creds.mailgun}`))
      return { status: 401, text: "Forbidden", headers: { "www-authenticate": 'Basic realm="MG API"' } };
    const messageId = url.searchParams.get("message-id")?.replace(/^<|>$/g, "") ?? "";
    const items = messageId ? (this.#mailgunEvents.get(messageId) ?? []) : [];
    const page = `${url.origin}${url.pathname}/${Buffer.from(messageId).toString("base64url")}`;
    return { status: 200, json: { items, paging: { first: page, last: page, next: page, previous: page } } };
  }

  /** Answers a request with `answer` (the control server's routes write through it). */
  answer(res: ServerResponse, answer: Answer): void {
    write(res, answer);
  }

  /** True the first time a "throttle" address is sent to through this provider. */
  #throttle(provider: EspProvider, recipients: string[]): boolean {
    for (const r of recipients) {
      const key = `${provider} ${bareAddress(r).toLowerCase()}`;
      if (r.toLowerCase().includes("throttle") && !this.#throttled.has(key)) {
        this.#throttled.add(key);
        return true;
      }
    }
    return false;
  }

  readonly #rules: Record<EspProvider, (req: Request, url: URL) => Answer | Promise<Answer>> = {
    sendgrid: (req) => this.#sendgrid(req),
    ses: (req) => this.#ses(req),
    mailgun: (req, url) => this.#mailgun(req, url),
    postmark: (req) => this.#postmark(req),
    resend: (req) => this.#resend(req),
  };

  // ---- SendGrid v3 mail/send ----
  #sendgrid(req: Request): Answer {
    const sgError = (status: number, errors: Array<{ message: string; field?: string | null; help?: string | null }>): Answer => ({
      status,
      json: { errors: errors.map((e) => ({ message: e.message, field: e.field ?? null, help: e.help ?? null })) },
    });
    const auth = header(req.headers, "authorization");
    if (auth === null) return sgError(401, [{ message: "authorization required" }]);
    const key = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (key === undefined || !same(key, this.#creds.sendgrid))
      return sgError(401, [{ message: "The provided authorization grant is invalid, expired, or revoked" }]);
    if (req.oversized) return sgError(413, [{ message: "Payload Too Large" }]);
    const body = parseJson(req.body);
    if (body === null) return sgError(400, [{ message: "Bad Request", field: null, help: null }]);
    const help = (anchor: string) => `http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#${anchor}`;
    const errors: Array<{ message: string; field: string | null; help: string | null }> = [];
    const personalizations = Array.isArray(body.personalizations) ? (body.personalizations as unknown[]) : [];
    if (personalizations.length === 0)
      errors.push({
        message: "The personalizations field is required and must have at least one personalization.",
        field: "personalizations",
        help: help("-Personalizations-Errors"),
      });
    const recipients: string[] = [];
    personalizations.forEach((p, i) => {
      const to = isObject(p) && Array.isArray(p.to) ? (p.to as unknown[]) : [];
      if (to.length === 0)
        errors.push({
          message:
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
          field: `personalizations.${i}.to`,
          help: help("message.personalizations.to"),
        });
      to.forEach((t, j) => {
        const email = isObject(t) && typeof t.email === "string" ? t.email : "";
        if (!isEmail(email))
          errors.push({ message: "Does not contain a valid address.", field: `personalizations.${i}.to.${j}.email`, help: null });
        else recipients.push(email);
      });
    });
    const from = isObject(body.from) && typeof body.from.email === "string" ? body.from.email : "";
    if (!isEmail(from))
      errors.push({
        message:
          "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
        field: "from",
        help: help("message.from"),
      });
    const template = typeof body.template_id === "string" && body.template_id !== "";
    const subjectOf = (p: unknown) => (isObject(p) && typeof p.subject === "string" && p.subject !== "" ? p.subject : null);
    const subject = typeof body.subject === "string" && body.subject !== "" ? body.subject : subjectOf(personalizations[0]);
    if (!template && subject === null && !personalizations.every((p) => subjectOf(p) !== null))
      errors.push({
        message:
          "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
        field: "subject",
        help: help("message.subject"),
      });
    const content = Array.isArray(body.content) ? (body.content as unknown[]) : [];
    const contentOk =
      content.length > 0 &&
      content.every((c) => isObject(c) && typeof c.type === "string" && typeof c.value === "string" && c.value !== "");
    if (!template && !contentOk)
      errors.push({
        message:
          "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
        field: "content",
        help: help("message.content"),
      });
    errors.push(...sendgridAttachmentErrors(body.attachments));
    if (errors.length > 0) return sgError(400, errors);
    if (this.#throttle("sendgrid", recipients)) return { ...sgError(429, [{ message: "too many requests" }]), headers: rateHeaders() };
    const argsOf = (v: unknown) =>
      isObject(v) && isObject(v.custom_args) && typeof v.custom_args[OUR_ID] === "string" ? (v.custom_args[OUR_ID] as string) : null;
    const lasthopId = argsOf(personalizations[0]) ?? argsOf(body);
    const messageId = randomBytes(16).toString("base64url").slice(0, 22);
    return {
      status: 202,
      headers: { "x-message-id": messageId },
      accepted: { messageId, to: recipients, from, subject, lasthopId },
    };
  }

  // ---- Amazon SES v2 SendEmail ----
  #ses(req: Request): Answer {
    const awsError = (status: number, type: string, message: string): Answer => ({
      status,
      json: { message },
      headers: { "x-amzn-errortype": type, "x-amzn-requestid": randomUUID() },
    });
    const auth = header(req.headers, "authorization");
    if (auth === null) return awsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    const parsed =
      /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(
        auth,
      );
    if (parsed === null)
      return awsError(
        403,
        "IncompleteSignatureException",
        `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${auth.split(" ")[0]}`,
      );
    const [, keyId, date, region, service, signedList, signature] = parsed as unknown as string[];
    if (keyId !== this.#creds.ses.accessKeyId)
      return awsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    if (region !== this.#region || service !== "ses")
      return awsError(
        403,
        "InvalidSignatureException",
        `Credential should be scoped to a valid region and service: expected ${this.#region}/ses, got ${region}/${service}.`,
      );
    const signedNames = signedList!.split(";");
    const amzDate = header(req.headers, "x-amz-date");
    if (!signedNames.includes("host") || amzDate === null || !signedNames.includes("x-amz-date") || !amzDate.startsWith(date!))
      return awsError(403, "InvalidSignatureException", "The request signature must sign host and x-amz-date, scoped to its date.");
    const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
    if (Number.isNaN(when) || Math.abs(Date.now() - when) > SIGV4_SKEW_MS)
      return awsError(403, "InvalidSignatureException", `Signature expired: ${amzDate} is now earlier or later than the 15 minute window.`);
    const contentSha = header(req.headers, "x-amz-content-sha256");
    const bodyHash = createHash("sha256").update(req.body).digest("hex");
    const MISMATCH =
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    const mismatch = (detail = "") => awsError(403, "InvalidSignatureException", MISMATCH + detail);
    if (contentSha !== null && contentSha !== bodyHash) return mismatch();
    const headers: Record<string, string> = {};
    for (const name of signedNames) {
      const value = req.headers[name];
      if (value === undefined) return mismatch();
      headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const signer = new aws4.RequestSigner(
      {
        method: req.method,
        host: headers.host,
        path: req.path,
        headers,
        // The bytes received: aws4 hashes them for the canonical request (or takes a signed x-amz-content-sha256, checked above).
        body: req.body.length === 0 ? undefined : req.body,
        service: "ses",
        region: this.#region,
        doNotModifyHeaders: true,
        extraHeadersToInclude: Object.fromEntries(signedNames.map((n) => [n, true])),
      } as aws4.Request,
      this.#creds.ses,
    );
    const internals = signer as unknown as { signature(): string; canonicalString(): string; stringToSign(): string };
    const expected = internals.signature();
    // As AWS's REST-JSON front ends do, the answer says what should have been signed.
    if (!same(expected, signature!))
      return mismatch(
        `\n\nThe Canonical String for this request should have been\n'${internals.canonicalString()}'\n\nThe String-to-Sign should have been\n'${internals.stringToSign()}'\n`,
      );
    if (req.oversized) return awsError(400, "BadRequestException", `Request body exceeds ${MAX_ESP_BODY_BYTES} bytes.`);
    const body = parseJson(req.body);
    if (body === null) return awsError(400, "BadRequestException", "Could not parse the request body as JSON.");
    const validation = (path: string) =>
      awsError(
        400,
        "BadRequestException",
        `1 validation error detected: Value null at '${path}' failed to satisfy constraint: Member must not be null`,
      );
    if (!isObject(body.Content)) return validation("content");
    const destination = isObject(body.Destination) ? body.Destination : {};
    const listOf = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
    let to = [...listOf(destination.ToAddresses), ...listOf(destination.CcAddresses), ...listOf(destination.BccAddresses)];
    let from = typeof body.FromEmailAddress === "string" ? body.FromEmailAddress : null;
    let subject: string | null = null;
    if (isObject(body.Content.Simple)) {
      const simple = body.Content.Simple;
      if (from === null) return awsError(400, "BadRequestException", "Missing required field: FromEmailAddress.");
      if (!isObject(simple.Subject) || typeof simple.Subject.Data !== "string") return validation("content.simple.subject");
      if (!isObject(simple.Body) || !(isObject(simple.Body.Text) || isObject(simple.Body.Html))) return validation("content.simple.body");
      subject = simple.Subject.Data;
    } else if (isObject(body.Content.Raw)) {
      const data = body.Content.Raw.Data;
      if (typeof data !== "string" || data === "") return validation("content.raw.data");
      const mime = Buffer.from(data, "base64").toString("utf8");
      const heads = mimeHeaders(mime);
      from ??= heads.from ?? null;
      subject = heads.subject ?? null;
      if (to.length === 0) to = [heads.to, heads.cc].filter((v): v is string => !!v).flatMap(splitAddresses);
      if (from === null) return awsError(400, "BadRequestException", "Missing required header 'From'.");
    } else if (isObject(body.Content.Template)) {
      if (from === null) return awsError(400, "BadRequestException", "Missing required field: FromEmailAddress.");
    } else {
      return awsError(400, "BadRequestException", "Content must hold one of Simple, Raw or Template.");
    }
    if (to.length === 0) return awsError(400, "BadRequestException", "Missing final '@domain'");
    if (![from, ...to].every((a) => isEmail(bareAddress(a)))) return awsError(400, "BadRequestException", "Illegal address");
    if (this.#throttle("ses", to)) return awsError(429, "TooManyRequestsException", "Maximum sending rate exceeded.");
    const inactive = to.find((a) => a.toLowerCase().includes("inactive"));
    if (inactive !== undefined)
      return awsError(400, "MessageRejected", `Email address is on the suppression list for your account: ${bareAddress(inactive)}`);
    const tags = Array.isArray(body.EmailTags) ? body.EmailTags : [];
    const tag = tags.find((t) => isObject(t) && t.Name === OUR_ID && typeof t.Value === "string") as { Value: string } | undefined;
    const messageId = `0100${randomBytes(6).toString("hex")}-${randomUUID()}-000000`;
    return {
      status: 200,
      json: { MessageId: messageId },
      headers: { "x-amzn-requestid": randomUUID() },
      accepted: { messageId, to, from, subject, lasthopId: tag?.Value ?? null },
    };
  }

  // ---- Mailgun messages / messages.mime ----
  async #mailgun(req: Request, url: URL): Promise<Answer> {
    const match = /^\/mailgun\/v3\/([^/]+)\/(messages|messages\.mime)$/.exec(url.pathname)!;
    const domain = decodeURIComponent(match[1]!);
    const mime = match[2] === "messages.mime";
    const mgError = (status: number, message: string): Answer => ({ status, json: { message } });
    const auth = header(req.headers, "authorization") ?? "";
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth)?.[1];
    const decoded = basic === undefined ? "" : Buffer.from(basic, "base64").toString("utf8");
    if (!same(decoded, `api:${this.#creds.mailgun}`))
      return { status: 401, text: "Forbidden", headers: { "www-authenticate": 'Basic realm="MG API"' } };
    if (req.oversized) return mgError(413, "Request Entity Too Large");
    const contentType = header(req.headers, "content-type") ?? "";
    if (!/^(multipart\/form-data|application\/x-www-form-urlencoded)\b/i.test(contentType))
      return mgError(400, "Content-Type must be multipart/form-data or application/x-www-form-urlencoded");
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(req.body), { headers: { "content-type": contentType } }).formData();
    } catch {
      return mgError(400, "Invalid form data");
    }
    const field = async (name: string): Promise<string | null> => {
      const value = form.get(name);
      if (value === null) return null;
      return typeof value === "string" ? value : await value.text();
    };
    const to = form.getAll("to").flatMap((v) => (typeof v === "string" ? splitAddresses(v) : []));
    let from = await field("from");
    let subject = await field("subject");
    if (mime) {
      if (to.length === 0) return mgError(400, "'to' parameter is missing");
      const message = await field("message");
      if (message === null || message === "") return mgError(400, "'message' parameter is missing");
      const heads = mimeHeaders(message);
      from = heads.from ?? null;
      subject = heads.subject ?? null;
    } else {
      if (from === null || from === "") return mgError(400, "'from' parameter is missing");
      if (to.length === 0) return mgError(400, "'to' parameter is missing");
      if (!(await field("text")) && !(await field("html")) && !(await field("template")))
        return mgError(400, "Need at least one of 'text', 'html' or 'template' parameters specified");
    }
    if (!to.every((a) => isEmail(bareAddress(a)))) return mgError(400, `to parameter is not a valid address. please check documentation`);
    if (this.#throttle("mailgun", to)) return { ...mgError(429, "Too many requests"), headers: rateHeaders() };
    let lasthopId = await field(`v:${OUR_ID}`);
    const variables = await field("h:X-Mailgun-Variables");
    if (lasthopId === null && variables !== null) {
      const parsed = parseJson(Buffer.from(variables));
      if (parsed !== null && typeof parsed[OUR_ID] === "string") lasthopId = parsed[OUR_ID] as string;
    }
    const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
    const id = `<${stamp}.${randomBytes(8).toString("hex")}@${domain}>`;
    return { status: 200, json: { id, message: "Queued. Thank you." }, accepted: { messageId: id, to, from, subject, lasthopId } };
  }

  // ---- Postmark /email ----
  #postmark(req: Request): Answer {
    const pmError = (status: number, code: number, message: string): Answer => ({ status, json: { ErrorCode: code, Message: message } });
    const token = header(req.headers, "x-postmark-server-token");
    if (token === null || token === "")
      return pmError(
        401,
        10,
        "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.",
      );
    if (!same(token, this.#creds.postmark))
      return pmError(
        401,
        10,
        "The Server Token you provided in the X-Postmark-Server-Token request header was invalid. Please verify that you are using a valid token.",
      );
    if (req.oversized) return pmError(413, 300, "Request Entity Too Large");
    if (!/^application\/json\b/i.test(header(req.headers, "content-type") ?? ""))
      return pmError(
        422,
        409,
        "JSON required. Your HTTP request does not have the Accept and Content-Type headers set to application/json.",
      );
    const body = parseJson(req.body);
    if (body === null) return pmError(422, 402, "Received invalid JSON input.");
    const from = typeof body.From === "string" ? body.From : "";
    if (from === "" || !isEmail(bareAddress(from))) return pmError(422, 300, `Invalid 'From' address: '${from}'.`);
    const toField = typeof body.To === "string" ? body.To : "";
    const to = splitAddresses(toField);
    if (to.length === 0) return pmError(422, 300, "Zero recipients specified");
    const bad = to.find((a) => !isEmail(bareAddress(a)));
    if (bad !== undefined) return pmError(422, 300, `Error parsing 'To': Illegal email address '${bad}'. It must contain the '@' symbol.`);
    const text = typeof body.TextBody === "string" && body.TextBody !== "";
    const html = typeof body.HtmlBody === "string" && body.HtmlBody !== "";
    if (!text && !html) return pmError(422, 300, "Provide either email TextBody or HtmlBody or both.");
    if (namedAttachmentsMissing(body.Attachments, "Name", "Content"))
      return pmError(422, 300, "Invalid attachment: each attachment needs a Name and a Content.");
    if (this.#throttle("postmark", to)) return pmError(429, 429, "Rate limit exceeded. Please slow down your requests.");
    const inactive = to.filter((a) => a.toLowerCase().includes("inactive"));
    if (inactive.length > 0)
      return pmError(
        422,
        406,
        `You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: ${inactive.map(bareAddress).join(", ")}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.`,
      );
    const metadata = isObject(body.Metadata) ? body.Metadata : {};
    const messageId = randomUUID();
    return {
      status: 200,
      json: {
        To: toField,
        SubmittedAt: new Date().toISOString().replace("Z", "+00:00"),
        MessageID: messageId,
        ErrorCode: 0,
        Message: "OK",
      },
      accepted: {
        messageId,
        to,
        from,
        subject: typeof body.Subject === "string" ? body.Subject : null,
        lasthopId: typeof metadata[OUR_ID] === "string" ? (metadata[OUR_ID] as string) : null,
      },
    };
  }

  // ---- Resend /emails ----
  #resend(req: Request): Answer {
    const reError = (statusCode: number, name: string, message: string): Answer => ({
      status: statusCode,
      json: { statusCode, message, name },
    });
    const auth = header(req.headers, "authorization");
    const key = auth === null ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (key === undefined)
      return reError(
        401,
        "missing_api_key",
        "Missing API key in the authorization header. Include the following header Authorization: Bearer YOUR_API_KEY in the request.",
      );
    if (!same(key, this.#creds.resend)) return reError(403, "invalid_api_key", "API key is invalid");
    if (req.oversized) return reError(413, "validation_error", "Request body too large.");
    const body = parseJson(req.body);
    if (body === null) return reError(422, "validation_error", "Invalid JSON body.");
    const idempotencyKey = header(req.headers, "idempotency-key");
    if (idempotencyKey !== null && (idempotencyKey === "" || idempotencyKey.length > 256))
      return reError(400, "invalid_idempotency_key", "The key must be between 1-256 chars.");
    const hash = createHash("sha256").update(req.body).digest("hex");
    if (idempotencyKey !== null) {
      const seen = this.#idempotency.get(idempotencyKey);
      if (seen !== undefined) {
        if (seen.hash !== hash)
          return reError(
            409,
            "invalid_idempotent_request",
            "Same idempotency key used with a different request payload. Change your idempotency key or payload.",
          );
        return { status: 200, json: { id: seen.id } };
      }
    }
    if (typeof body.from !== "string" || body.from === "") return reError(422, "missing_required_field", "Missing `from` field.");
    if (!isEmail(bareAddress(body.from)))
      return reError(
        422,
        "validation_error",
        "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
      );
    const to =
      typeof body.to === "string" ? [body.to] : Array.isArray(body.to) ? body.to.filter((v): v is string => typeof v === "string") : [];
    if (to.length === 0) return reError(422, "missing_required_field", "Missing `to` field.");
    if (to.length > 50) return reError(422, "validation_error", "Too many recipients: `to` holds at most 50 addresses.");
    const bad = to.find((a) => !isEmail(bareAddress(a)));
    if (bad !== undefined)
      return reError(
        422,
        "validation_error",
        "Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
      );
    if (typeof body.subject !== "string" || body.subject === "") return reError(422, "missing_required_field", "Missing `subject` field.");
    if (namedAttachmentsMissing(body.attachments, "filename", "content"))
      return reError(422, "validation_error", "Invalid `attachments` field: each attachment needs a `filename` and a `content`.");
    const tags = Array.isArray(body.tags) ? body.tags : [];
    for (const t of tags) {
      if (
        !isObject(t) ||
        typeof t.name !== "string" ||
        !/^[A-Za-z0-9_-]{1,256}$/.test(t.name) ||
        (t.value !== undefined && (typeof t.value !== "string" || !/^[A-Za-z0-9_-]{0,256}$/.test(t.value)))
      )
        return reError(
          422,
          "validation_error",
          "Tags should only contain ASCII letters (a–z, A–Z), numbers (0–9), underscores (_), or dashes (-).",
        );
    }
    if (this.#throttle("resend", to))
      return {
        ...reError(
          429,
          "rate_limit_exceeded",
          "Too many requests. You can only make 2 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.",
        ),
        headers: { "retry-after": "1", "ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": "1" },
      };
    const id = randomUUID();
    if (idempotencyKey !== null) this.#idempotency.set(idempotencyKey, { hash, id });
    const tag = tags.find((t) => isObject(t) && t.name === OUR_ID) as { value?: string } | undefined;
    return {
      status: 200,
      json: { id },
      accepted: { messageId: id, to, from: body.from, subject: body.subject, lasthopId: tag?.value ?? null },
    };
  }
}

/** The provider's own 503, answered before the request is read. */
function unavailable(provider: EspProvider): Answer {
  switch (provider) {
    case "sendgrid":
      return { status: 503, json: { errors: [{ message: "Service Unavailable", field: null, help: null }] } };
    case "ses":
      return {
        status: 503,
        json: { message: "Service Unavailable" },
        headers: { "x-amzn-errortype": "ServiceUnavailableException", "x-amzn-requestid": randomUUID() },
      };
    case "mailgun":
      return { status: 503, json: { message: "Service Unavailable" } };
    case "postmark":
      return { status: 503, text: "Service Unavailable" };
    case "resend":
      return { status: 503, json: { statusCode: 503, message: "Service unavailable, please try again later.", name: "application_error" } };
  }
}

function write(res: ServerResponse, answer: Answer): void {
  const headers = { ...(answer.headers ?? {}) };
  let text = "";
  if (answer.json !== undefined) {
    text = JSON.stringify(answer.json);
    headers["content-type"] = "application/json; charset=utf-8";
  } else if (answer.text !== undefined) {
    text = answer.text;
    headers["content-type"] = "text/plain; charset=utf-8";
  }
  res.writeHead(answer.status, { ...headers, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function rateHeaders(): Record<string, string> {
  return {
    "retry-after": "1",
    "x-ratelimit-limit": "600",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 1),
  };
}

/** The webhooks an accepted recipient's words call for, in the order the provider would send them. */
function eventsFor(recipient: string): WebhookEvent[] {
  const lower = recipient.toLowerCase();
  if (lower.includes("bounce") || lower.includes("inactive")) return ["bounce"];
  if (lower.includes("soft")) return ["soft_bounce"];
  if (lower.includes("complain")) return ["delivered", "complaint"];
  if (lower.includes("open")) return ["delivered", "open"];
  return ["delivered"];
}

/** The id the provider's webhooks name the message by (Mailgun's without the angle brackets). */
function webhookMessageId(message: EspMessage): string {
  return message.provider === "mailgun" ? message.messageId.replace(/^<|>$/g, "") : message.messageId;
}

function header(headers: IncomingMessage["headers"], name: string): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseJson(bytes: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isEmail(value: string): boolean {
  return /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(value);
}

/** "Name <a@b.c>" -> "a@b.c". */
export function bareAddress(value: string): string {
  return (/<([^>]+)>/.exec(value)?.[1] ?? value).trim();
}

function splitAddresses(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/** The top-level headers of a MIME message, lower-cased names, unfolded. */
function mimeHeaders(mime: string): Record<string, string> {
  const head = mime.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const out: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) out[line.slice(0, colon).trim().toLowerCase()] ??= line.slice(colon + 1).trim();
  }
  return out;
}
