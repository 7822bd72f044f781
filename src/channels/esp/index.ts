/**
 * The hosted email providers' senders by route type, each given its provider section
 * (`provider:<type>`): the same section whose webhook secret verifies that provider's events.
 */
import type { AccountRuntime } from "../../core/config/runtime.ts";
import type { EspRoute } from "../../core/email-routes.ts";
import type { EspMessage } from "../../core/esp/message.ts";
import type { SendOutcome } from "../../core/outcome.ts";
import type { EspSendOptions } from "./http.ts";
import * as mailgun from "./mailgun.ts";
import * as postmark from "./postmark.ts";
import * as resend from "./resend.ts";
import * as sendgrid from "./sendgrid.ts";
import * as ses from "./ses.ts";

export type { EspSendOptions } from "./http.ts";

export function sendEsp(
  message: EspMessage,
  route: EspRoute,
  sections: AccountRuntime["sections"],
  options?: EspSendOptions,
): Promise<SendOutcome> {
  switch (route.type) {
    case "sendgrid":
      return sendgrid.send(message, route, sections["provider:sendgrid"], options);
    case "ses":
      return ses.send(message, route, sections["provider:ses"], options);
    case "mailgun":
      return mailgun.send(message, route, sections["provider:mailgun"], options);
    case "postmark":
      return postmark.send(message, route, sections["provider:postmark"], options);
    case "resend":
      return resend.send(message, route, sections["provider:resend"], options);
  }
  // A route type this build does not know (config newer than the code): nothing was sent.
  const type = (route as { type?: unknown }).type;
  return Promise.resolve({ kind: "retry", detail: { reason: "route_auth", submitted: "no", hint: `unknown route type ${String(type)}` } });
}
