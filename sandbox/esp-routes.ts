// The email providers' send APIs (esp.ts) and their control routes, on the control server:
//   POST   /sendgrid/v3/mail/send                 SendGrid v3 (Bearer)
//   POST   /ses/v2/email/outbound-emails          SES v2 SendEmail (SigV4, service ses)
//   POST   /mailgun/v3/{domain}/messages          Mailgun (Basic api:<key>), form fields
//   POST   /mailgun/v3/{domain}/messages.mime     Mailgun, form field `message` = the MIME message
//   POST   /postmark/email                        Postmark (X-Postmark-Server-Token)
//   POST   /resend/emails                         Resend (Bearer re_…, Idempotency-Key)
//   GET    /mailgun/v3/{domain}/events?message-id= Mailgun's Events API (Basic api:<key>): {items, paging}, its webhooks' events
//   POST   /_sandbox/esp/{provider}/webhooks      {drop: boolean} -> 200 {provider, dropWebhooks}: build the outcome webhooks
//          but post none (Mailgun's still listed by its Events API), so a message stays `accepted` until lasthop's status poll
//   GET    /_sandbox/esp/config                   -> 200 per provider {baseUrl, credentials…}
//   GET    /_sandbox/esp/received?provider=       -> 200 [{provider, messageId, to, from, subject, lasthopId, at, contentType, raw}]
//   DELETE /_sandbox/esp/received                 -> 204 (also on DELETE /_sandbox/received[?channel=email])
//   GET    /_sandbox/esp/stats                    -> 200 per provider {requests, accepted, refused, unavailable, hung, dropped, webhooksSent, webhooksFailed}
//   POST   /_sandbox/esp/{provider}/behaviour     {mode: "ok"|"503"|"hang"|"drop", times?, seconds?} -> 200 {provider, mode, remaining, until?}
//          (times: the next n requests; seconds: an outage window from now; neither: until changed)
//   GET    /_sandbox/esp/{provider}/behaviour     -> 200 {provider, mode, remaining, until?}
import { error, readJsonInput, type Route } from "./control.ts";
import { BEHAVIOURS, ESP_PROVIDERS, type Behaviour, type EspService, isEspProvider } from "./esp.ts";
import { sendEmpty, sendJson } from "./http.ts";

const MAILGUN_PATH = /^\/mailgun\/v3\/[^/]+\/(messages|messages\.mime)$/;
const BEHAVIOUR_PATH = /^\/_sandbox\/esp\/([^/]+)\/behaviour$/;
const MAILGUN_EVENTS_PATH = /^\/mailgun\/v3\/[^/]+\/events$/;
const WEBHOOKS_PATH = /^\/_sandbox\/esp\/([^/]+)\/webhooks$/;

export function espRoutes(esp: EspService): Route[] {
  const providerOf = (url: URL) => BEHAVIOUR_PATH.exec(url.pathname)![1]!;
  return [
    { method: "POST", path: "/sendgrid/v3/mail/send", handle: (req, res, url) => esp.serve("sendgrid", req, res, url) },
    { method: "POST", path: "/ses/v2/email/outbound-emails", handle: (req, res, url) => esp.serve("ses", req, res, url) },
    { method: "POST", path: MAILGUN_PATH, handle: (req, res, url) => esp.serve("mailgun", req, res, url) },
    {
      method: "GET",
      path: MAILGUN_EVENTS_PATH,
      handle: (req, res, url) => esp.answer(res, esp.mailgunEventsPage(req.headers.authorization, url)),
    },
    {
      method: "POST",
      path: WEBHOOKS_PATH,
      handle: async (req, res, url) => {
        const provider = WEBHOOKS_PATH.exec(url.pathname)![1]!;
        if (!isEspProvider(provider)) return error(res, 404, "unknown_provider", `provider must be one of ${ESP_PROVIDERS.join(", ")}`);
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (typeof input.drop !== "boolean") return error(res, 400, "invalid_webhooks", "drop must be a boolean");
        sendJson(res, 200, esp.setDropWebhooks(provider, input.drop));
      },
    },
    { method: "POST", path: "/postmark/email", handle: (req, res, url) => esp.serve("postmark", req, res, url) },
    { method: "POST", path: "/resend/emails", handle: (req, res, url) => esp.serve("resend", req, res, url) },
    { method: "GET", path: "/_sandbox/esp/config", handle: (_req, res) => sendJson(res, 200, esp.config()) },
    {
      method: "GET",
      path: "/_sandbox/esp/received",
      handle: (_req, res, url) => {
        const provider = url.searchParams.get("provider");
        if (provider === null || provider === "") return sendJson(res, 200, esp.messages());
        if (!isEspProvider(provider)) return error(res, 400, "unknown_provider", `provider must be one of ${ESP_PROVIDERS.join(", ")}`);
        sendJson(res, 200, esp.messages(provider));
      },
    },
    {
      method: "DELETE",
      path: "/_sandbox/esp/received",
      handle: (_req, res) => {
        esp.clear();
        sendEmpty(res, 204);
      },
    },
    { method: "GET", path: "/_sandbox/esp/stats", handle: (_req, res) => sendJson(res, 200, esp.stats()) },
    {
      method: "GET",
      path: BEHAVIOUR_PATH,
      handle: (_req, res, url) => {
        const provider = providerOf(url);
        if (!isEspProvider(provider)) return error(res, 404, "unknown_provider", `provider must be one of ${ESP_PROVIDERS.join(", ")}`);
        sendJson(res, 200, esp.behaviour(provider));
      },
    },
    {
      method: "POST",
      path: BEHAVIOUR_PATH,
      handle: async (req, res, url) => {
        const provider = providerOf(url);
        if (!isEspProvider(provider)) return error(res, 404, "unknown_provider", `provider must be one of ${ESP_PROVIDERS.join(", ")}`);
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { mode, times, seconds } = input;
        if (typeof mode !== "string" || !(BEHAVIOURS as readonly string[]).includes(mode))
          return error(res, 400, "invalid_behaviour", `mode must be one of ${BEHAVIOURS.join(", ")}`);
        if (times !== undefined && times !== null && (typeof times !== "number" || !Number.isInteger(times) || times < 1))
          return error(res, 400, "invalid_behaviour", "times must be a positive integer (a request count)");
        if (seconds !== undefined && seconds !== null && (typeof seconds !== "number" || !(seconds > 0) || seconds > 3600))
          return error(res, 400, "invalid_behaviour", "seconds must be a number of seconds above 0, at most 3600 (an outage window)");
        sendJson(
          res,
          200,
          esp.setBehaviour(
            provider,
            mode as Behaviour,
            typeof times === "number" ? times : undefined,
            typeof seconds === "number" ? seconds : undefined,
          ),
        );
      },
    },
  ];
}
