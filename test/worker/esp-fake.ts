/**
 * Fakes of two hosted providers' send APIs for the Worker tests, answering as the providers
 * document: SendGrid v3 mail/send (Bearer key → 202 with X-Message-Id; errors `{errors:[…]}`)
 * and Postmark /email (X-Postmark-Server-Token → 200 `{MessageID, ErrorCode: 0}`). Each answers
 * as told (`mode`): ok, 503 (not taken), 500 (ambiguous) or 401. The real simulators
 * (sandbox/esp.ts) are exercised end to end in test/node.
 */
export const FAKE_SENDGRID = { host: "sendgrid.fake.test", apiKey: "SG.fake-worker-test-key.0123456789abcdef" };
export const FAKE_POSTMARK = { host: "postmark.fake.test", serverToken: "8f1d5c4e-0000-4000-8000-postmarkfake" };

export type EspCall = { provider: "sendgrid" | "postmark"; body: any; at: number };
export type Mode = "ok" | "503" | "500" | "401";

/**
 * `sendgridId`: the X-Message-Id for one of our messages (a test that posts its webhooks before the
 * send result knows it in advance); `hold`: resolves when SendGrid may answer for that message.
 */
export type EspFakeOptions = { sendgridId?: (lasthopId: string) => string; hold?: (lasthopId: string) => Promise<void> };

export function espFake(options: EspFakeOptions = {}) {
  const calls: EspCall[] = [];
  const mode: Record<"sendgrid" | "postmark", Mode> = { sendgrid: "ok", postmark: "ok" };
  const ids = new Map<string, string>();
  /** The X-Message-Id SendGrid gives the next message it takes (a test that posts its webhook first). */
  const next: { sendgridId: string | null } = { sendgridId: null };
  async function handle(request: Request): Promise<Response | null> {
    const url = new URL(request.url);
    if (url.hostname === FAKE_SENDGRID.host && url.pathname === "/v3/mail/send") {
      if (mode.sendgrid === "503") return Response.json({ errors: [{ message: "Service Unavailable" }] }, { status: 503 });
      const body = await request.json();
      calls.push({ provider: "sendgrid", body, at: Date.now() });
      if (mode.sendgrid === "401" || request.headers.get("authorization") !== `Bearer ${FAKE_SENDGRID.apiKey}`) {
        return Response.json(
          { errors: [{ field: null, message: "The provided authorization grant is invalid, expired, or revoked" }] },
          { status: 401 },
        );
      }
      if (mode.sendgrid === "500") return Response.json({ errors: [{ message: "Internal Server Error" }] }, { status: 500 });
      const ours: string = (body as any).custom_args?.lasthop_id ?? (body as any).personalizations?.[0]?.custom_args?.lasthop_id;
      await options.hold?.(ours);
      const id = next.sendgridId ?? options.sendgridId?.(ours) ?? crypto.randomUUID().replace(/-/g, "").slice(0, 22);
      next.sendgridId = null;
      ids.set(id, ours);
      return new Response(null, { status: 202, headers: { "x-message-id": id } });
    }
    if (url.hostname === FAKE_POSTMARK.host && url.pathname === "/email") {
      if (mode.postmark === "503") return new Response("Service Unavailable", { status: 503 });
      const body = await request.json();
      calls.push({ provider: "postmark", body, at: Date.now() });
      if (mode.postmark === "401" || request.headers.get("x-postmark-server-token") !== FAKE_POSTMARK.serverToken) {
        return Response.json({ ErrorCode: 10, Message: "Request does not contain a valid Server token." }, { status: 401 });
      }
      if (mode.postmark === "500") return Response.json({ ErrorCode: 0, Message: "Internal error" }, { status: 500 });
      const id = crypto.randomUUID();
      return Response.json({ To: (body as any).To, SubmittedAt: new Date().toISOString(), MessageID: id, ErrorCode: 0, Message: "OK" });
    }
    return null;
  }
  /** What one provider received for one of our messages. */
  const of = (provider: "sendgrid" | "postmark", messageId: string) =>
    calls.filter((c) => c.provider === provider && JSON.stringify(c.body).includes(messageId));
  return { calls, mode, next, handle, of };
}
