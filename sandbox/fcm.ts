// Firebase Cloud Messaging HTTP v1 (`POST /v1/projects/<project>/messages:send`, served here
// under /fcm): OAuth bearer access tokens from oauth.ts, the Message resource's checks, and
// Google's error body {error: {code, message, status, details}} with FcmError codes.
//
// The registration token (or topic/condition) steers the outcome:
//   "bounce"   -> 404 NOT_FOUND / UNREGISTERED
//   "mismatch" -> 403 PERMISSION_DENIED / SENDER_ID_MISMATCH
//   "bad"      -> 400 INVALID_ARGUMENT ("not a valid FCM registration token")
//   "slow"     -> 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED with Retry-After once, then 200
//   "down"     -> 503 UNAVAILABLE
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CappedSet } from "./capped.ts";
import { readBody, sendJson } from "./http.ts";
import type { OAuthService } from "./oauth.ts";
import type { ReceivedStore } from "./store.ts";

export type FcmStats = { tokensIssued: number; sends: number };

type Detail = Record<string, unknown>;

// Either scope lets a service account send (the FCM v1 docs list both).
const SEND_SCOPES = ["https://www.googleapis.com/auth/firebase.messaging", "https://www.googleapis.com/auth/cloud-platform"];
// Google front ends cap request bodies well above FCM's 4 KB message limit; this only bounds memory.
const MAX_BODY_BYTES = 64 * 1024;
const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";
const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
const AUTH_HELP =
  "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const METADATA = { service: "fcm.googleapis.com", method: "google.firebase.fcm.v1.FcmService.SendMessage" };

// Message fields by their proto JSON names (lowerCamelCase and the original snake_case both parse).
const OBJECT_FIELDS: Record<string, string> = {
  notification: "Notification",
  android: "AndroidConfig",
  webpush: "WebpushConfig",
  apns: "ApnsConfig",
  fcm_options: "FcmOptions",
  fcmOptions: "FcmOptions",
};
const TARGETS = ["token", "topic", "condition"] as const;
const MESSAGE_FIELDS = new Set(["name", "data", ...Object.keys(OBJECT_FIELDS), ...TARGETS]);
const OUTCOME_WORDS = ["bounce", "mismatch", "bad", "slow", "down"] as const;

export class FcmService {
  readonly #store: ReceivedStore;
  readonly #oauth: OAuthService;
  /** Registration tokens whose one 429 ("slow") has been served. */
  readonly #throttled = new CappedSet<string>();
  #sends = 0;

  constructor(store: ReceivedStore, oauth: OAuthService) {
    this.#store = store;
    this.#oauth = oauth;
  }

  stats(): FcmStats {
    return { tokensIssued: this.#oauth.tokensIssued, sends: this.#sends };
  }

  /**
   * A registration token shaped like FCM's (`<instance id>:APA91b<...>`) that starts with `name`,
   * so the name's words pick the outcome; the random rest is redrawn until it adds none of its own.
   */
  createToken(name = ""): string {
    const prefix = name.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 40);
    for (;;) {
      const instance = `${prefix}${prefix ? "-" : ""}${randomBytes(16).toString("base64url")}`.slice(0, Math.max(22, prefix.length + 9));
      const token = `${instance}:APA91b${randomBytes(100).toString("base64url")}`;
      if (outcomeWord(token) === outcomeWord(prefix)) return token;
    }
  }

  async send(req: IncomingMessage, res: ServerResponse, project: string): Promise<void> {
    const body = await readBody(req, MAX_BODY_BYTES);

    const auth = this.#oauth.lookup(req.headers.authorization);
    if (!auth.ok) {
      const missing = auth.reason === "missing";
      const message = `Request ${missing ? "is missing required authentication credential" : "had invalid authentication credentials"}. ${AUTH_HELP}`;
      const reason = { missing: "CREDENTIALS_MISSING", unknown: "ACCESS_TOKEN_TYPE_UNSUPPORTED", expired: "ACCESS_TOKEN_EXPIRED" }[
        auth.reason
      ];
      return googleError(
        res,
        401,
        "UNAUTHENTICATED",
        message,
        [{ "@type": ERROR_INFO, reason, domain: "googleapis.com", metadata: METADATA }],
        {
          "www-authenticate": `Bearer realm="https://accounts.google.com/"${missing ? "" : ', error="invalid_token"'}`,
        },
      );
    }
    if (!SEND_SCOPES.some((scope) => auth.token.scopes.has(scope))) {
      return googleError(res, 403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.", [
        { "@type": ERROR_INFO, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", domain: "googleapis.com", metadata: METADATA },
      ]);
    }
    if (project !== auth.token.projectId) {
      // A credential of another project is an IAM refusal, not SENDER_ID_MISMATCH: that one is
      // about a registration token, this about the sender's configuration.
      return googleError(
        res,
        403,
        "PERMISSION_DENIED",
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`,
        [
          {
            "@type": ERROR_INFO,
            reason: "IAM_PERMISSION_DENIED",
            domain: "cloudresourcemanager.googleapis.com",
            metadata: { permission: "cloudmessaging.messages.create", resource: `projects/${project}` },
          },
        ],
      );
    }

    // Past authentication, every answered send is recorded, whatever its fate.
    let to = "";
    let payload: Record<string, unknown> | null = null;
    const answer = (status: number, outcome: string, respond: () => void) => {
      this.#sends += 1;
      this.#store.record({ channel: "fcm", to, status, outcome, headers: {}, payload });
      respond();
    };
    const invalid = (message: string, details: Detail[]) =>
      answer(400, "rejected", () => googleError(res, 400, "INVALID_ARGUMENT", message, details));

    if (body.oversized)
      return invalid(`Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`, [
        badRequest(undefined, "Request payload size exceeds the limit."),
      ]);
    const parsed = parseRequest(body.bytes);
    if ("problem" in parsed) {
      payload = parsed.message ?? null;
      return invalid(parsed.problem.message, parsed.problem.details);
    }
    payload = parsed.message;
    to = parsed.target;

    if (parsed.validateOnly) {
      // A dry run delivers nothing, so nothing is recorded; FCM answers with a fixed fake id.
      return sendJson(res, 200, { name: `projects/${project}/messages/fake_message_id` });
    }

    switch (outcomeWord(to)) {
      case "bounce":
        return answer(404, "gone", () => googleError(res, 404, "NOT_FOUND", "Requested entity was not found.", [fcmError("UNREGISTERED")]));
      case "mismatch":
        return answer(403, "rejected", () =>
          googleError(res, 403, "PERMISSION_DENIED", "SenderId mismatch", [fcmError("SENDER_ID_MISMATCH")]),
        );
      case "bad":
        return answer(400, "bad-token", () =>
          googleError(res, 400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", [
            fcmError("INVALID_ARGUMENT"),
          ]),
        );
      case "slow":
        if (!this.#throttled.has(to)) {
          this.#throttled.add(to);
          return answer(429, "throttled", () =>
            googleError(
              res,
              429,
              "RESOURCE_EXHAUSTED",
              "Quota exceeded for sending to this device; retry later.",
              [fcmError("QUOTA_EXCEEDED")],
              {
                "retry-after": "1",
              },
            ),
          );
        }
        break;
      case "down":
        return answer(503, "unavailable", () =>
          googleError(res, 503, "UNAVAILABLE", "The service is currently unavailable.", [fcmError("UNAVAILABLE")]),
        );
    }
    // FCM message ids look like "0:1500415314455276%31bd1c9631bd1c96".
    const id = `0:${Date.now()}${randomBytes(2).readUInt16BE() % 1000}%${randomBytes(8).toString("hex")}`;
    answer(200, "accepted", () => sendJson(res, 200, { name: `projects/${project}/messages/${id}` }));
  }
}

type ParsedRequest =
  | { message: Record<string, unknown>; target: string; validateOnly: boolean }
  | { problem: { message: string; details: Detail[] }; message?: Record<string, unknown> };

/** The SendMessageRequest checks FCM makes before looking at the recipient. */
function parseRequest(bytes: Buffer): ParsedRequest {
  let request: unknown;
  try {
    request = JSON.parse(bytes.toString("utf8"));
  } catch {
    return protoProblem("Invalid JSON payload received. Unexpected token.");
  }
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    return protoProblem("Invalid JSON payload received. Expected an object.");
  }
  const fields = request as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!["message", "validate_only", "validateOnly"].includes(name))
      return protoProblem(`Invalid JSON payload received. Unknown name "${name}": Cannot find field.`);
  }
  const message = fields.message;
  if (message === undefined || message === null) return recipientNotSet();
  if (typeof message !== "object" || Array.isArray(message)) {
    return protoProblem(
      `Invalid value at 'message' (type.googleapis.com/google.firebase.fcm.v1.Message), ${JSON.stringify(message)}`,
      "message",
    );
  }
  const msg = message as Record<string, unknown>;
  const withMessage = (problem: ParsedRequest) => ({ ...problem, message: msg });

  for (const name of Object.keys(msg)) {
    if (!MESSAGE_FIELDS.has(name)) {
      return withMessage(protoProblem(`Invalid JSON payload received. Unknown name "${name}" at 'message': Cannot find field.`, "message"));
    }
  }
  for (const [name, type] of Object.entries(OBJECT_FIELDS)) {
    const value = msg[name];
    if (value !== undefined && value !== null && (typeof value !== "object" || Array.isArray(value))) {
      return withMessage(
        protoProblem(
          `Invalid value at 'message.${name}' (type.googleapis.com/google.firebase.fcm.v1.${type}), ${JSON.stringify(value)}`,
          `message.${name}`,
        ),
      );
    }
  }
  if (msg.data !== undefined && msg.data !== null) {
    if (typeof msg.data !== "object" || Array.isArray(msg.data)) {
      return withMessage(
        protoProblem(`Invalid value at 'message.data' (map<string, string>), ${JSON.stringify(msg.data)}`, "message.data"),
      );
    }
    // data is map<string, string>: proto JSON names a bad entry by its index, e.g.
    // "Invalid value at 'message.data[1].value' (TYPE_STRING), 21465".
    const entries = Object.entries(msg.data as Record<string, unknown>);
    const index = entries.findIndex(([, value]) => typeof value !== "string");
    if (index >= 0) {
      const value = entries[index]![1];
      const shown = typeof value === "object" && value !== null ? "Starting an object on a scalar field" : JSON.stringify(value);
      const field = `message.data[${index}].value`;
      return withMessage(protoProblem(`Invalid value at '${field}' (TYPE_STRING), ${shown}`, field));
    }
  }

  const targets = TARGETS.filter((name) => msg[name] !== undefined && msg[name] !== null);
  for (const name of targets) {
    if (typeof msg[name] !== "string") {
      return withMessage(protoProblem(`Invalid value at 'message.${name}' (TYPE_STRING), ${JSON.stringify(msg[name])}`, `message.${name}`));
    }
  }
  if (targets.length === 0 || msg[targets[0]!] === "") return withMessage(recipientNotSet());
  if (targets.length > 1) {
    return withMessage(
      protoProblem(`Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '${targets[1]}'`, "message"),
    );
  }
  const validateOnly = fields.validate_only ?? fields.validateOnly;
  return { message: msg, target: msg[targets[0]!] as string, validateOnly: validateOnly === true };
}

/** A request FCM could not map onto its proto: BadRequest details only, no FcmError. */
function protoProblem(message: string, field?: string): ParsedRequest {
  return { problem: { message, details: [badRequest(field, message)] } };
}

function recipientNotSet(): ParsedRequest {
  const message = "Recipient of the message is not set.";
  return { problem: { message, details: [badRequest("message", message), fcmError("INVALID_ARGUMENT")] } };
}

function badRequest(field: string | undefined, description: string): Detail {
  return { "@type": BAD_REQUEST, fieldViolations: [field === undefined ? { description } : { field, description }] };
}

function fcmError(errorCode: string): Detail {
  return { "@type": FCM_ERROR, errorCode };
}

function outcomeWord(text: string): (typeof OUTCOME_WORDS)[number] | null {
  return OUTCOME_WORDS.find((word) => text.includes(word)) ?? null;
}

/** Google's JSON error body (google.rpc.Status as JSON). */
export function googleError(
  res: ServerResponse,
  code: number,
  status: string,
  message: string,
  details: Detail[],
  headers: Record<string, string> = {},
): void {
  sendJson(res, code, { error: { code, message, status, details } }, headers);
}
