// Control API routes for the SMTP receiving MTA:
//   GET    /_sandbox/smtp/stats      -> 200 {sessions, sessionsOpened, messages}
//   DELETE /_sandbox/smtp/greylist   -> 204 (every "soft" address defers once again)
import type { Route } from "./control.ts";
import { sendEmpty, sendJson } from "./http.ts";
import type { SmtpService } from "./smtp.ts";

export function smtpRoutes(smtp: SmtpService): Route[] {
  return [
    { method: "GET", path: "/_sandbox/smtp/stats", handle: (_req, res) => sendJson(res, 200, smtp.stats()) },
    {
      method: "DELETE",
      path: "/_sandbox/smtp/greylist",
      handle: (_req, res) => {
        smtp.resetGreylist();
        sendEmpty(res, 204);
      },
    },
  ];
}
