/**
 * Fakes for the SMS routes in the Worker tests: the bridge's SMPP endpoint (signature checked
 * with the shared verify) and a Twilio-compatible aggregator. Both answer by the recipient's
 * last four digits, like the sandbox: 0000 → accepted (the test then posts UNDELIV),
 * 9999 → the route is down, 8888 → no submit_sm_resp (submitted "maybe"), 7777 → 3 parts.
 * The real bridge, SMSC and aggregator are exercised end to end in test/node.
 */
import { env, SELF } from "cloudflare:test";
import { vi } from "vitest";
import { EDGE_SMS_INBOUND_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { verifiedBody } from "./bridge-fake.ts";
import { TEST_BRIDGE_HOST, TEST_SMS_REST_HOST, TEST_TWILIO } from "../fixtures.ts";
import { BASE } from "./helpers.ts";

export type SmppItem = { id: string; route: string; from: string; to: string; body: string; reference: number };
export type RestCall = {
  to: string;
  from: string;
  body: string;
  statusCallback: string;
  auth: string | null;
  accountSid: string;
  sid: string;
};
/** A status poll: GET .../Messages/{sid}.json, as asked. */
export type PollCall = { accountSid: string; sid: string; auth: string | null };
/** What a status GET answers: a resource's status (and error code), or an error as Twilio writes it. */
export type PollAnswer = { status: string; errorCode?: number } | { httpStatus: number; body: unknown };

let smscCounter = 0x1a2b3c00;

export type SmsFakeOptions = {
  smppDown?: boolean;
  restStatus?: number;
  /** The REST accounts the aggregator knows (sid → auth token); default: TEST_TWILIO's alone. */
  restAccounts?: Array<{ accountSid: string; authToken: string }>;
  /** Called while the bridge request is in flight, before the answer (a DLR that outruns its submit_sm_resp). */
  beforeAnswer?: (item: SmppItem, smscIds: string[]) => Promise<void>;
};

export function installSms(opts: SmsFakeOptions = {}) {
  const smpp: SmppItem[] = [];
  const rest: RestCall[] = [];
  const polls: PollCall[] = [];
  /** By sid: what a status GET answers; a sid not here is still "sent". */
  const answers = new Map<string, PollAnswer>();
  const realFetch = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.hostname === TEST_SMS_REST_HOST && request.method === "GET") {
      const [, accountSid, sid] = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/.exec(url.pathname) ?? [];
      const auth = request.headers.get("authorization");
      polls.push({ accountSid: accountSid ?? "", sid: sid ?? "", auth });
      // A sid sent under another account is not found under this one, as Twilio answers.
      const sent = rest.find((call) => call.sid === sid && call.accountSid === accountSid);
      // Twilio's own checks: the credentials, then the resource under that account.
      const known = (opts.restAccounts ?? [TEST_TWILIO]).find((a) => a.accountSid === accountSid);
      if (!known || auth !== `Basic ${btoa(`${known.accountSid}:${known.authToken}`)}`)
        return Response.json(
          { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 },
          { status: 401 },
        );
      if (!sent) return Response.json({ code: 20404, message: "The requested resource was not found", status: 404 }, { status: 404 });
      const answer = answers.get(sid!) ?? { status: "sent" };
      if ("httpStatus" in answer) return Response.json(answer.body, { status: answer.httpStatus });
      return Response.json({
        account_sid: accountSid,
        api_version: "2010-04-01",
        body: sent.body,
        direction: "outbound-api",
        error_code: answer.errorCode ?? null,
        error_message: null,
        from: sent.from,
        num_segments: "1",
        sid,
        status: answer.status,
        to: sent.to,
        uri: url.pathname,
      });
    }
    if (url.hostname === TEST_SMS_REST_HOST) {
      const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()));
      const call = {
        to: form.get("To")!,
        from: form.get("From")!,
        body: form.get("Body")!,
        statusCallback: form.get("StatusCallback")!,
        auth: request.headers.get("authorization"),
        accountSid: /\/Accounts\/([^/]+)\//.exec(url.pathname)?.[1] ?? "",
        sid: `SM${crypto.randomUUID().replace(/-/g, "")}`,
      };
      rest.push(call);
      if (opts.restStatus)
        return Response.json({ code: 20500, message: "Internal Server Error", status: opts.restStatus }, { status: opts.restStatus });
      if (call.to.endsWith("0001"))
        return Response.json({ code: 21614, message: "'To' number is not a valid mobile number", status: 400 }, { status: 400 });
      return Response.json({ sid: call.sid, status: "queued", num_segments: "1", to: call.to }, { status: 201 });
    }
    if (url.hostname !== TEST_BRIDGE_HOST || url.pathname !== "/v1/smpp/send") return realFetch(input as RequestInfo, init);
    const raw = await verifiedBody(request);
    if (raw instanceof Response) return raw;
    const { items } = JSON.parse(raw) as { items: SmppItem[] };
    smpp.push(...items);
    const results = [];
    for (const item of items) {
      const last4 = item.to.slice(-4);
      if (opts.smppDown || last4 === "9999") {
        results.push({ id: item.id, kind: "retry", detail: { reason: "route_down", route: item.route, submitted: "no" } });
        continue;
      }
      if (last4 === "8888") {
        results.push({
          id: item.id,
          kind: "retry",
          detail: { reason: "response_timeout", route: item.route, submitted: "maybe", smscIds: [] },
        });
        continue;
      }
      const parts = last4 === "7777" ? 3 : 1;
      const smscIds = Array.from({ length: parts }, () => String(smscCounter++));
      await opts.beforeAnswer?.(item, smscIds);
      results.push({ id: item.id, kind: "accepted", detail: { route: item.route, smscIds, segments: parts, encoding: "gsm7" } });
    }
    return Response.json({ results });
  });
  return { smpp, rest, polls, answers, restore: () => spy.mockRestore() };
}

/** What the bridge posts for a deliver_sm: signed with the key of /v1/inbound/sms (or of `door`). */
export async function postInboundSms(body: unknown, secret = env.WEBHOOK_SECRET, door = EDGE_SMS_INBOUND_PATH) {
  const raw = JSON.stringify(body);
  const headers = await signedHeaders(await doorSecret(secret, door), raw);
  return SELF.fetch(`${BASE}${EDGE_SMS_INBOUND_PATH}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: raw,
  });
}

export function dlr(smscId: string, stat: string, extra: Record<string, unknown> = {}) {
  return {
    kind: "dlr",
    route: "smsc",
    smscId,
    stat,
    from: "+14155550100",
    to: "+15005550006",
    text: `id:${smscId} stat:${stat}`,
    ...extra,
  };
}

export { TEST_TWILIO };
