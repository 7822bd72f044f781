/** Mailgun messages.mime: built and mapped in core (src/core/esp/mailgun.ts), fetched here. */
import type { Sections } from "../../core/config/sections.ts";
import type { EspRoute } from "../../core/email-routes.ts";
import { outcome, request } from "../../core/esp/mailgun.ts";
import type { EspMessage } from "../../core/esp/message.ts";
import type { SendOutcome } from "../../core/outcome.ts";
import { deliver, type EspSendOptions, missingCredentials, toRequest } from "./http.ts";

export async function send(
  message: EspMessage,
  route: Extract<EspRoute, { type: "mailgun" }>,
  creds: Sections["provider:mailgun"] | undefined,
  options?: EspSendOptions,
): Promise<SendOutcome> {
  const apiKey = creds?.apiKey;
  const domain = creds?.domain;
  if (!apiKey || !domain) return missingCredentials("mailgun", ["apiKey", "domain"]);
  return deliver((init) => toRequest(request(message, route, { apiKey, domain }), init), outcome, options);
}
