// The REST SMS aggregator's API and the SMS control routes, on the control server:
//   POST   /sms/2010-04-01/Accounts/{AccountSid}/Messages.json        Twilio's Messages API (sms-rest.ts)
//   GET    /sms/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
//   POST   /_sandbox/sms/mo        {from, to, body, route?: "smpp"|"rest", systemId?}  -> 202 {route, ...}
//          smpp (default): deliver_sm to a receiving session of systemId (default: the first
//          configured credential), held until one binds; rest: the number's SMS URL webhook.
//   POST   /_sandbox/sms/faults    {dropEvery?, dropMode?, throttleAll?, noResponse?, idMode?, tps?, restFail?, restDropCallbacks?}
//          -> 200 (the armed faults). Replaces every fault: what is left out is off, {} clears.
//   DELETE /_sandbox/sms/faults    -> 204
//   GET    /_sandbox/sms/faults    -> 200
//   GET    /_sandbox/sms/smsc      -> 200 {binds, submits, submitTimes, tpsViolations, redeliveries, pendingDeliveries, ...}
//   GET    /_sandbox/sms/rest      -> 200 {messages, callbacksSent, callbackAttempts, callbacksFailed, callbacksDropped, inboundSent, inboundFailed, restFail}
//   PUT    /_sandbox/sms/rest/numbers/{number}   {smsUrl, accountSid?} -> 200 {number, smsUrl, accountSid}
import { error, pathNumber, readJsonInput, type Route } from "./control.ts";
import { sendEmpty, sendJson } from "./http.ts";
import type { RestFail, SmsRestService } from "./sms-rest.ts";
import type { SmscFaults, SmscService } from "./smsc.ts";

const MESSAGES_PATH = /^\/sms\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/sms\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
const NUMBER_PATH = /^\/_sandbox\/sms\/rest\/numbers\/([^/]+)$/;
const FAULT_NAMES = ["dropEvery", "dropMode", "throttleAll", "noResponse", "idMode", "tps", "restFail", "restDropCallbacks"];

export function smsRoutes(smsc: SmscService, rest: SmsRestService): Route[] {
  // restFail shows as {status, remaining} (remaining null: until cleared).
  const faultsView = () => ({ ...smsc.stats().faults, restFail: rest.stats().restFail, restDropCallbacks: rest.dropCallbacks });
  return [
    {
      method: "POST",
      path: MESSAGES_PATH,
      handle: (req, res, url) => rest.create(req, res, decodeURIComponent(MESSAGES_PATH.exec(url.pathname)![1]!)),
    },
    {
      method: "GET",
      path: MESSAGE_PATH,
      handle: (req, res, url) => {
        const [, account, message] = MESSAGE_PATH.exec(url.pathname)!;
        rest.fetch(req, res, decodeURIComponent(account!), decodeURIComponent(message!));
      },
    },
    {
      method: "POST",
      path: "/_sandbox/sms/mo",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const { from, to, body, route = "smpp", systemId } = input;
        if (typeof from !== "string" || from === "" || typeof to !== "string" || to === "" || typeof body !== "string") {
          return error(res, 400, "invalid_mo", "from and to must be non-empty strings and body a string");
        }
        if (route !== "smpp" && route !== "rest") return error(res, 400, "invalid_route", 'route must be "smpp" or "rest"');
        if (systemId !== undefined && (typeof systemId !== "string" || route !== "smpp")) {
          return error(res, 400, "invalid_system_id", "systemId must be a string, and only goes with route smpp");
        }
        try {
          if (route === "smpp") {
            const queued = smsc.sendMo({ from, to, body, ...(systemId !== undefined ? { systemId } : {}) });
            return sendJson(res, 202, { route, ...queued });
          }
          sendJson(res, 202, { route, ...rest.sendMo({ from, to, body }) });
        } catch (cause) {
          error(res, 400, route === "rest" ? "no_sms_url" : "invalid_system_id", (cause as Error).message);
        }
      },
    },
    {
      method: "POST",
      path: "/_sandbox/sms/faults",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const parsed = parseFaults(input);
        if (typeof parsed === "string") return error(res, 400, "invalid_fault", parsed);
        smsc.setFaults(parsed.smsc);
        rest.setRestFail(parsed.restFail);
        rest.setDropCallbacks(parsed.restDropCallbacks);
        sendJson(res, 200, faultsView());
      },
    },
    {
      method: "DELETE",
      path: "/_sandbox/sms/faults",
      handle: (_req, res) => {
        smsc.setFaults({});
        rest.setRestFail(null);
        rest.setDropCallbacks(false);
        sendEmpty(res, 204);
      },
    },
    { method: "GET", path: "/_sandbox/sms/faults", handle: (_req, res) => sendJson(res, 200, faultsView()) },
    { method: "GET", path: "/_sandbox/sms/smsc", handle: (_req, res) => sendJson(res, 200, smsc.stats()) },
    { method: "GET", path: "/_sandbox/sms/rest", handle: (_req, res) => sendJson(res, 200, rest.stats()) },
    {
      method: "PUT",
      path: NUMBER_PATH,
      handle: async (req, res, url) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const number = pathNumber(res, NUMBER_PATH, url.pathname);
        if (number === null) return;
        if (!/^\+?[0-9]{3,15}$/.test(number)) return error(res, 400, "invalid_number", "number must be a phone number, e.g. +15551234567");
        const { smsUrl, accountSid } = input;
        if (typeof smsUrl !== "string" || (accountSid !== undefined && typeof accountSid !== "string")) {
          return error(res, 400, "invalid_number_config", "smsUrl must be a string (an http(s) URL), accountSid a string when given");
        }
        try {
          sendJson(res, 200, rest.setNumber(number, smsUrl, accountSid));
        } catch (cause) {
          error(res, 400, "invalid_number_config", (cause as Error).message);
        }
      },
    },
  ];
}

/** The faults as armed, or what is wrong with them. */
function parseFaults(input: Record<string, unknown>): { smsc: SmscFaults; restFail: RestFail | null; restDropCallbacks: boolean } | string {
  const unknown = Object.keys(input).filter((name) => !FAULT_NAMES.includes(name));
  if (unknown.length > 0) return `unknown fault ${unknown.join(", ")}; known: ${FAULT_NAMES.join(", ")}`;
  const smsc: SmscFaults = {};
  const { dropEvery, dropMode, throttleAll, noResponse, idMode, tps, restFail, restDropCallbacks } = input;
  if (restDropCallbacks !== undefined && typeof restDropCallbacks !== "boolean") return "restDropCallbacks must be a boolean";
  if (dropEvery !== undefined && dropEvery !== null && dropEvery !== 0) {
    if (typeof dropEvery !== "number" || !Number.isInteger(dropEvery) || dropEvery < 1)
      return "dropEvery must be a positive integer (a submit_sm count)";
    smsc.dropEvery = dropEvery;
  }
  if (dropMode !== undefined) {
    if (dropMode !== "before_resp" && dropMode !== "after_resp") return 'dropMode must be "before_resp" or "after_resp"';
    smsc.dropMode = dropMode;
  }
  for (const [name, value] of [
    ["throttleAll", throttleAll],
    ["noResponse", noResponse],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== "boolean") return `${name} must be a boolean`;
    smsc[name] = value;
  }
  if (idMode !== undefined) {
    if (idMode !== "hex" && idMode !== "decimal") return 'idMode must be "hex" or "decimal"';
    smsc.idMode = idMode;
  }
  if (tps !== undefined && tps !== null) {
    if (typeof tps !== "number" || !Number.isInteger(tps) || tps < 1) return "tps must be a positive integer (submit_sm per second)";
    smsc.tps = tps;
  }
  let fail: RestFail | null = null;
  if (restFail !== undefined && restFail !== null) {
    if (typeof restFail !== "object" || Array.isArray(restFail)) return "restFail must be {status: 500|502|503, count?: n}";
    const { status, count } = restFail as Record<string, unknown>;
    if (status !== 500 && status !== 502 && status !== 503) return "restFail.status must be 500, 502 or 503";
    if (count !== undefined && (typeof count !== "number" || !Number.isInteger(count) || count < 1))
      return "restFail.count must be a positive integer";
    fail = count === undefined ? { status } : { status, count };
  }
  return { smsc, restFail: fail, restDropCallbacks: restDropCallbacks === true };
}
