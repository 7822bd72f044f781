// Vonage's SMS API (sms-vonage.ts) and its control routes, on the control server:
//   POST /vonage/sms/json                              Vonage's SMS API (api_key + api_secret, or sig)
//   GET  /_sandbox/sms/vonage/config                   -> 200 {baseUrl, apiKey, apiSecret, signatureSecret, signatureMethod, callback}
//   PUT  /_sandbox/sms/vonage/callback                 {url: string|null} -> 200 (the config): receipts for requests without `callback`
//   PUT  /_sandbox/sms/vonage/numbers/{number}         {status, errorText?} -> 200 {number, status, errorText}; status 0 clears
//   GET  /_sandbox/sms/vonage                          -> 200 {requests, accepted, refused, unavailable, hung, dropped, dlrsSent, dlrAttempts, dlrsFailed}
//   POST /_sandbox/sms/vonage/behaviour                {mode: "ok"|"503"|"hang"|"drop", times?} -> 200 {mode, remaining}
//   GET  /_sandbox/sms/vonage/behaviour                -> 200 {mode, remaining}
import { error, pathNumber, readJsonInput, type Route } from "./control.ts";
import { sendJson } from "./http.ts";
import { VONAGE_BEHAVIOURS, type VonageBehaviour, type VonageSmsService } from "./sms-vonage.ts";

const NUMBER_PATH = /^\/_sandbox\/sms\/vonage\/numbers\/([^/]+)$/;

export function smsVonageRoutes(vonage: VonageSmsService): Route[] {
  return [
    { method: "POST", path: "/vonage/sms/json", handle: (req, res) => vonage.send(req, res) },
    { method: "GET", path: "/_sandbox/sms/vonage/config", handle: (_req, res) => sendJson(res, 200, vonage.config()) },
    { method: "GET", path: "/_sandbox/sms/vonage", handle: (_req, res) => sendJson(res, 200, vonage.stats()) },
    {
      method: "PUT",
      path: "/_sandbox/sms/vonage/callback",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (input.url !== null && typeof input.url !== "string") return error(res, 400, "invalid_callback", "url must be a string or null");
        try {
          vonage.setCallback(input.url);
        } catch (cause) {
          return error(res, 400, "invalid_callback", (cause as Error).message);
        }
        sendJson(res, 200, vonage.config());
      },
    },
    {
      method: "PUT",
      path: NUMBER_PATH,
      handle: async (req, res, url) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const number = pathNumber(res, NUMBER_PATH, url.pathname);
        if (number === null) return;
        if (!/^\+?\d{7,15}$/.test(number)) return error(res, 400, "invalid_number", "number must be a phone number, e.g. 447700900000");
        const { status, errorText } = input;
        if (typeof status !== "number" || !Number.isInteger(status) || status < 0 || status > 9999)
          return error(res, 400, "invalid_status", "status must be a Vonage status code (0 clears)");
        if (errorText !== undefined && typeof errorText !== "string")
          return error(res, 400, "invalid_status", "errorText must be a string");
        try {
          sendJson(res, 200, vonage.setNumber(number, status, errorText));
        } catch (cause) {
          error(res, 400, "invalid_status", (cause as Error).message);
        }
      },
    },
    { method: "GET", path: "/_sandbox/sms/vonage/behaviour", handle: (_req, res) => sendJson(res, 200, vonage.behaviour()) },
    {
      method: "POST",
      path: "/_sandbox/sms/vonage/behaviour",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { mode, times } = input;
        if (typeof mode !== "string" || !(VONAGE_BEHAVIOURS as readonly string[]).includes(mode))
          return error(res, 400, "invalid_behaviour", `mode must be one of ${VONAGE_BEHAVIOURS.join(", ")}`);
        if (times !== undefined && times !== null && (typeof times !== "number" || !Number.isInteger(times) || times < 1))
          return error(res, 400, "invalid_behaviour", "times must be a positive integer (a request count)");
        sendJson(res, 200, vonage.setBehaviour(mode as VonageBehaviour, typeof times === "number" ? times : undefined));
      },
    },
  ];
}
