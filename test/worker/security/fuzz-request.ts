/**
 * One fuzzed request for a route: path parameters, query, headers, content type, body and
 * credentials, each valid-shaped (from the route's zod schemas, or real ids of the fuzz account)
 * or hostile (hostile.ts), and `sendFuzz` to send it with SELF.fetch, signed where the route's
 * door wants a signature. `errorShapeProblem` is the one judgement of an error body.
 */
import { env, SELF } from "cloudflare:test";
import fc from "fast-check";
import { SESSION_COOKIE } from "../../../src/dashboard/session.ts";
import { BASE } from "../helpers.ts";
import { bridgeSigned, providerSigned, twilioSigned, type FuzzAccount, type Signed } from "./fuzz-auth.ts";
import type { FuzzRoute } from "./fuzz-routes.ts";
import { contentTypes, hostileBody, hostileHeaders, hostileSegment, oddQuery, wrongAuthorization, type RawBody } from "./hostile.ts";
import { arbitraryOf } from "./schema-arbitrary.ts";

export type FuzzRequest = {
  params: Record<string, string>;
  query: string;
  headers: [string, string][];
  /** `undefined`: the route's own content type. */
  contentType: string | null | undefined;
  body: RawBody | undefined;
  /** `proper`: what the route's door lets in; `wrong`: credentials that are not (or none). */
  auth: { kind: "proper" } | { kind: "wrong"; authorization: string | null };
};

/** Real values of the fuzz account a path parameter may take, by parameter name and route. */
export type Pools = (route: FuzzRoute, param: string) => string[];

const stringValue = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));

function paramArbitrary(route: FuzzRoute, pools: Pools): fc.Arbitrary<Record<string, string>> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const shapes: fc.Arbitrary<Record<string, unknown>> = route.params
    ? (arbitraryOf(route.params) as fc.Arbitrary<Record<string, unknown>>)
    : fc.constant({});
  return shapes.chain((shape) =>
    fc.record(
      Object.fromEntries(
        names.map((name) => {
          const real = pools(route, name);
          const shaped = fc.constant(stringValue(shape[name] ?? "x"));
          // Real ids first: a path that names something that exists reaches deepest.
          const valid = real.length
            ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...real) }, { weight: 1, arbitrary: shaped })
            : shaped;
          return [name, hostileSegment(valid)];
        }),
      ),
    ),
  );
}

function queryArbitrary(route: FuzzRoute): fc.Arbitrary<string> {
  const valid = route.query
    ? (arbitraryOf(route.query) as fc.Arbitrary<Record<string, unknown>>).map((q) => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, stringValue(one));
        return params.toString();
      })
    : fc.constant("");
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: oddQuery });
}

function headerArbitrary(route: FuzzRoute): fc.Arbitrary<[string, string][]> {
  const valid = route.headers
    ? (arbitraryOf(route.headers) as fc.Arbitrary<Record<string, unknown>>).map((h) =>
        Object.entries(h).map(([k, v]) => [k, stringValue(v).replace(/[\x00-\x1f\x7f]/g, "")] as [string, string]),
      )
    : fc.constant([] as [string, string][]);
  return fc.tuple(valid, hostileHeaders).map(([a, b]) => [...a, ...b]);
}

function bodyArbitrary(route: FuzzRoute): fc.Arbitrary<RawBody | undefined> {
  if (route.method === "GET") return fc.constant(undefined);
  const isForm = route.contentType === "application/x-www-form-urlencoded";
  const shape: fc.Arbitrary<unknown> = route.form ?? (route.body ? arbitraryOf(route.body) : fc.constant({}));
  const valid = isForm
    ? shape.map((v) => new URLSearchParams(Object.entries(v as object).map(([k, x]) => [k, stringValue(x)])).toString())
    : shape.map((v) => JSON.stringify(v));
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 3, arbitrary: hostileBody(shape) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

export function requestArbitrary(route: FuzzRoute, pools: Pools): fc.Arbitrary<FuzzRequest> {
  return fc.record({
    params: paramArbitrary(route, pools),
    query: queryArbitrary(route),
    headers: headerArbitrary(route),
    contentType: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: contentTypes }),
    body: bodyArbitrary(route),
    auth: fc.oneof(
      { weight: 3, arbitrary: fc.constant({ kind: "proper" as const }) },
      { weight: 1, arbitrary: wrongAuthorization.map((authorization) => ({ kind: "wrong" as const, authorization })) },
    ),
  });
}

/** The path with its parameters in place (already encoded, or deliberately not). */
export const pathOf = (route: FuzzRoute, params: Record<string, string>) => route.path.replace(/\{(\w+)\}/g, (_, n: string) => params[n]!);

/** What the route's door wants, for this request's body and query. */
async function credentials(route: FuzzRoute, req: FuzzRequest, fuzz: FuzzAccount, body: RawBody | undefined): Promise<Signed> {
  const { auth } = route;
  // The dashboard's sign-in is public, but a browser posts it from the dashboard's own origin.
  if (auth === "public") return { headers: route.path.startsWith("/dashboard") ? { origin: BASE } : {} };
  if (auth === "apiKey") return { headers: { authorization: `Bearer ${fuzz.account.key}` } };
  if (auth === "adminKey") return { headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` } };
  if (auth === "dashboard") {
    const headers: Record<string, string> = { cookie: `${SESSION_COOKIE}=${fuzz.cookie}`, origin: BASE };
    if (route.method !== "POST") return { headers };
    // The form's CSRF field, added to whatever the body is (form-encoded or not).
    const text = typeof body === "string" ? body : "";
    return { headers, body: `${text}${text ? "&" : ""}_csrf=${encodeURIComponent(fuzz.csrf)}` };
  }
  if (auth.includes("bridgeSignature")) return bridgeSigned(route.path, body);
  if (auth.includes("twilioSignature")) return twilioSigned(req.query, body);
  return providerSigned(fuzz, decodeSafe(req.params.provider ?? ""), route.method, req.query, body);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export type Sent = { url: string; method: string; headers: [string, string][]; body: string; res: Response };

export async function sendFuzz(route: FuzzRoute, req: FuzzRequest, fuzz: FuzzAccount): Promise<Sent> {
  const headers = new Headers();
  for (const [name, value] of req.headers) {
    try {
      headers.append(name, value);
    } catch {
      // A name or value the Headers API itself refuses never reaches a server either.
    }
  }
  const contentType = req.contentType === undefined ? route.contentType : req.contentType;
  if (contentType) headers.set("content-type", contentType);
  else if (req.contentType === null) headers.delete("content-type");
  let body = req.body;
  let query = req.query;
  if (req.auth.kind === "proper") {
    const signed = await credentials(route, req, fuzz, body);
    for (const [name, value] of Object.entries(signed.headers)) headers.set(name, value);
    if (signed.body !== undefined && route.method !== "GET") body = signed.body;
    if (signed.query !== undefined) query = signed.query;
  } else if (req.auth.authorization !== null) {
    headers.set("authorization", req.auth.authorization);
    if (route.auth === "dashboard") headers.set("cookie", `${SESSION_COOKIE}=${encodeURIComponent(req.auth.authorization)}`);
  }
  const url = `${BASE}${pathOf(route, req.params)}${query ? `?${query}` : ""}`;
  const res = await SELF.fetch(url, { method: route.method, headers, body, redirect: "manual" });
  const shown = typeof body === "string" ? body.slice(0, 300) : body ? `<${body.length} bytes>` : "";
  return { url: url.slice(0, 400), method: route.method, headers: [...headers].map(([k, v]) => [k, v.slice(0, 80)]), body: shown, res };
}

/** Why `body` is not exactly `{error:{code,message,details}}` with details `{path?,code?,message}`, or null. */
export function errorShapeProblem(body: unknown): string | null {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const keys = (v: Record<string, unknown>) => Object.keys(v).sort().join(",");
  if (!isObject(body) || keys(body) !== "error") return `top-level keys are not exactly [error]: ${JSON.stringify(body).slice(0, 200)}`;
  const error = body.error;
  if (!isObject(error) || keys(error) !== "code,details,message")
    return `error keys are not exactly code, message, details: ${JSON.stringify(error).slice(0, 200)}`;
  if (typeof error.code !== "string" || error.code === "" || typeof error.message !== "string") return "code or message is not a string";
  if (!Array.isArray(error.details)) return "details is not an array";
  for (const d of error.details) {
    if (!isObject(d) || typeof d.message !== "string") return `a detail has no message: ${JSON.stringify(d)}`;
    const extra = Object.keys(d).filter((k) => !["path", "code", "message"].includes(k));
    if (extra.length) return `a detail has keys ${extra.join(",")}`;
    if ((d.path !== undefined && typeof d.path !== "string") || (d.code !== undefined && typeof d.code !== "string"))
      return `a detail's path or code is not a string: ${JSON.stringify(d)}`;
  }
  return null;
}

/** What is wrong with an answer of `route` (a 5xx, an error of the wrong shape), or null. Reads the body. */
export async function answerProblem(route: FuzzRoute, res: Response): Promise<string | null> {
  const text = await res.text();
  if (res.status >= 500) return `${res.status}: ${text.slice(0, 300)}`;
  if (res.status < 400) return null;
  const type = res.headers.get("content-type") ?? "";
  if (!/json/i.test(type)) {
    const allowed = { json: null, html: /^text\/html/i, text: /^text\/plain/i }[route.errors];
    return allowed?.test(type) ? null : `${res.status} error is ${type || "untyped"}, not JSON: ${text.slice(0, 120)}`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${res.status} error is not valid JSON: ${text.slice(0, 120)}`;
  }
  const shape = errorShapeProblem(parsed);
  return shape && `${res.status} ${shape}`;
}
