// FCM and its OAuth token endpoint on the control server (plain HTTP, like every Google API the
// sender reaches through a configurable base URL), plus their control routes:
//   POST /oauth/token                                   form: grant_type, assertion
//   POST /fcm/v1/projects/<project>/messages:send       Authorization: Bearer <access token>
//   POST /_sandbox/fcm/tokens            {"name"?: string}                        -> 201 {"token"}
//   POST /_sandbox/fcm/service-accounts  {clientEmail, projectId, publicKeyPem}   -> 201 {clientEmail, projectId}
//   POST /_sandbox/fcm/config            {"tokenTtlSeconds"?: n}                  -> 200 {tokenTtlSeconds}
//   POST /_sandbox/fcm/revoke                                                     -> 204
//   GET  /_sandbox/fcm/stats                                                      -> 200 {tokensIssued, sends}
import { error, readJsonInput, type Route } from "./control.ts";
import type { FcmService } from "./fcm.ts";
import { readBody, sendEmpty, sendJson } from "./http.ts";
import type { OAuthService } from "./oauth.ts";

const MAX_FORM_BYTES = 16 * 1024;
const SEND_PATH = /^\/fcm\/v1\/projects\/([^/]+)\/messages(?::|%3A)send$/i;

export function fcmRoutes(fcm: FcmService, oauth: OAuthService): Route[] {
  return [
    {
      method: "POST",
      path: "/oauth/token",
      handle: async (req, res) => {
        const body = await readBody(req, MAX_FORM_BYTES);
        if (body.oversized) return sendJson(res, 400, { error: "invalid_request", error_description: "Request body too large" });
        const result = oauth.grant(formFields(req.headers["content-type"], body.bytes));
        // Token responses must not be cached (RFC 6749 §5.1).
        sendJson(res, result.ok ? 200 : 400, result.body, { "cache-control": "no-store", pragma: "no-cache" });
      },
    },
    {
      method: "POST",
      path: SEND_PATH,
      handle: (req, res, url) => fcm.send(req, res, decodeURIComponent(SEND_PATH.exec(url.pathname)![1]!)),
    },
    {
      method: "POST",
      path: "/_sandbox/fcm/tokens",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (input.name !== undefined && typeof input.name !== "string") return error(res, 400, "invalid_name", "name must be a string");
        sendJson(res, 201, { token: fcm.createToken(input.name) });
      },
    },
    {
      method: "POST",
      path: "/_sandbox/fcm/service-accounts",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { clientEmail, projectId, publicKeyPem } = input;
        if (typeof clientEmail !== "string" || typeof projectId !== "string" || typeof publicKeyPem !== "string") {
          return error(res, 400, "invalid_service_account", "clientEmail, projectId and publicKeyPem must be strings");
        }
        try {
          oauth.registerServiceAccount({ clientEmail, projectId, publicKeyPem });
        } catch (cause) {
          return error(res, 400, "invalid_service_account", (cause as Error).message);
        }
        sendJson(res, 201, { clientEmail, projectId });
      },
    },
    {
      method: "POST",
      path: "/_sandbox/fcm/config",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const ttl = input.tokenTtlSeconds;
        if (ttl !== undefined) {
          if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) {
            return error(res, 400, "invalid_config", "tokenTtlSeconds must be an integer from 1 to 86400");
          }
          oauth.tokenTtlSeconds = ttl;
        }
        sendJson(res, 200, { tokenTtlSeconds: oauth.tokenTtlSeconds });
      },
    },
    {
      method: "POST",
      path: "/_sandbox/fcm/revoke",
      handle: (_req, res) => {
        oauth.revokeAll();
        sendEmpty(res, 204);
      },
    },
    { method: "GET", path: "/_sandbox/fcm/stats", handle: (_req, res) => sendJson(res, 200, fcm.stats()) },
  ];
}

/** The token request's fields: form-encoded as RFC 6749 §4.1.3 requires (a JSON object is read too, as a convenience for curl). */
function formFields(contentType: string | undefined, bytes: Buffer): URLSearchParams {
  const text = bytes.toString("utf8");
  if (contentType?.toLowerCase().startsWith("application/json")) {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const entries = Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string");
        return new URLSearchParams(entries);
      }
    } catch {
      // an unreadable body has no fields
    }
    return new URLSearchParams();
  }
  return new URLSearchParams(text);
}
