/**
 * The bridge's one way to hand inbound traffic to the edge: a JSON POST to `door` (a path of
 * the edge), Standard Webhooks-signed with that door's key, with a deadline that covers the
 * answer's body too. Callers decide what each status means for their peer (250/451 for SMTP,
 * ESME_ROK/ESME_RX_T_APPN for SMPP).
 */
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";

export type EdgeReply = { status: number; text: string } | { error: string };

export async function postToEdge(edgeUrl: string, door: string, secret: string, payload: unknown, timeoutMs: number): Promise<EdgeReply> {
  const body = JSON.stringify(payload);
  const headers = await signedHeaders(await doorSecret(secret, door), body);
  try {
    const response = await fetch(`${edgeUrl}${door}`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "lasthop-bridge", ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    return { error: timedOut ? `the edge did not answer within ${timeoutMs} ms` : errorText(error) };
  }
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError") return error.message;
  // undici: "fetch failed", with the socket error (ECONNREFUSED, …) as the cause.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${error.message}: ${code ? `${code} ` : ""}${cause.message}`.slice(0, 512);
  }
  return error.message.slice(0, 512);
}
