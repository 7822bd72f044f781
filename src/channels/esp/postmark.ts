/** Postmark /email: built and mapped in core (src/core/esp/postmark.ts), fetched here. */
import type { Sections } from "../../core/config/sections.ts";
import type { EspRoute } from "../../core/email-routes.ts";
import type { EspMessage } from "../../core/esp/message.ts";
import { outcome, request } from "../../core/esp/postmark.ts";
import type { SendOutcome } from "../../core/outcome.ts";
import { deliver, type EspSendOptions, missingCredentials, toRequest } from "./http.ts";

export async function send(
  message: EspMessage,
  route: Extract<EspRoute, { type: "postmark" }>,
  creds: Sections["provider:postmark"] | undefined,
  options?: EspSendOptions,
): Promise<SendOutcome> {
  const serverToken = creds?.serverToken;
  if (!serverToken) return missingCredentials("postmark", ["serverToken"]);
  const messageStream = creds?.messageStream;
  return deliver((init) => toRequest(request(message, route, { serverToken, messageStream }), init), outcome, options);
}
