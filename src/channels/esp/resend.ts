/** Resend /emails: built and mapped in core (src/core/esp/resend.ts), fetched here. */
import type { Sections } from "../../core/config/sections.ts";
import type { EspRoute } from "../../core/email-routes.ts";
import type { EspMessage } from "../../core/esp/message.ts";
import { outcome, request } from "../../core/esp/resend.ts";
import type { SendOutcome } from "../../core/outcome.ts";
import { deliver, type EspSendOptions, missingCredentials, toRequest } from "./http.ts";

export async function send(
  message: EspMessage,
  route: Extract<EspRoute, { type: "resend" }>,
  creds: Sections["provider:resend"] | undefined,
  options?: EspSendOptions,
): Promise<SendOutcome> {
  const apiKey = creds?.apiKey;
  if (!apiKey) return missingCredentials("resend", ["apiKey"]);
  return deliver((init) => toRequest(request(message, route, { apiKey }), init), outcome, options);
}
