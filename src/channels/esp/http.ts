/**
 * One provider request on the wire, shared by the five ESP senders: no redirect followed, a
 * deadline, the answer read as JSON when it is JSON, and every way it can go wrong turned into
 * an outcome (bad input never throws out of a sender).
 */
import type { EspRequest } from "../../core/esp/answer.ts";
import type { SendOutcome } from "../../core/outcome.ts";

export const DEFAULT_ESP_TIMEOUT_MS = 30_000;

export type EspSendOptions = { timeoutMs?: number };

type Answer = (status: number, headers: Headers, body: unknown) => SendOutcome;

/** Nothing was sent: the route's section lacks what the provider needs. Another route may take the message. */
export function missingCredentials(provider: string, fields: string[]): SendOutcome {
  return {
    kind: "retry",
    detail: { reason: "route_auth", submitted: "no", hint: `set ${fields.join(", ")} in the provider:${provider} section` },
  };
}

/** Builds the Request (a throw here is before anything left: not submitted), then sends it. */
export async function deliver(
  build: (init: { signal: AbortSignal; redirect: "manual" }) => Request | Promise<Request>,
  answer: Answer,
  options: EspSendOptions = {},
): Promise<SendOutcome> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_ESP_TIMEOUT_MS);
  let request: Request;
  try {
    request = await build({ signal, redirect: "manual" });
  } catch (err) {
    return {
      kind: "retry",
      detail: { reason: "route_auth", submitted: "no", error: String(err), hint: "the route's settings make an invalid request" },
    };
  }
  let response: Response;
  try {
    response = await fetch(request);
  } catch (err) {
    // workerd throws the same error for a refused connection and one lost after the request was
    // written, and a timeout may fall after the provider took it: every throw is ambiguous.
    const timeout = signal.aborted || (err instanceof Error && err.name === "TimeoutError");
    return { kind: "retry", detail: { reason: timeout ? "timeout" : "network_error", error: String(err), submitted: "maybe" } };
  }
  return answer(response.status, response.headers, await body(response));
}

/** An EspRequest as a fetch Request. */
export function toRequest(req: EspRequest, init: RequestInit): Request {
  return new Request(req.url, { method: req.method, headers: req.headers, body: req.body, ...init });
}

/** The answer's body: parsed JSON, else its text; undefined when it could not be read (the status still counts). */
async function body(response: Response): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
