/**
 * `/v1/webhook-endpoints`: the account's endpoints for the event stream out. The secret is in
 * the answer that makes it (creation, rotation) and never again. URLs are https, never to a
 * private, loopback, link-local or metadata address (422), except the dev hosts of
 * WEBHOOK_DEV_HOSTS (the sandbox). Deliveries, attempts and recovery are the endpoint's own
 * object's (EndpointDO).
 */
import { Hono } from "hono";
import type { z } from "zod";
import { attemptsQuery, recoverRequest } from "../core/api-requests.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import {
  endpointCreate,
  endpointIdPattern,
  endpointPatch,
  MAX_ENDPOINTS_PER_ACCOUNT,
  newEndpointId,
  type EndpointInfo,
} from "../core/webhook-endpoint.ts";
import { newEndpointSecret } from "../core/webhook-secrets.ts";
import { checkEndpointUrl, parseDevHosts } from "../core/webhook-url.ts";
import type { AttemptPage, AttemptView } from "../state/endpoint.ts";
import { configStub, endpointStub } from "../state/stubs.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

/** The URL as it will be fetched (WHATWG-normalised), or 422. */
function allowedUrl(env: Env, url: string): string {
  const verdict = checkEndpointUrl(url.trim(), parseDevHosts(env.WEBHOOK_DEV_HOSTS));
  if (!verdict.ok) throw new ApiError(422, verdict.code, verdict.message, [{ path: "url", code: verdict.code, message: verdict.message }]);
  return verdict.url.href;
}

async function body<T>(c: { req: { raw: Request; text(): Promise<string> } }, schema: z.ZodType<T>): Promise<T> {
  const parsed = schema.safeParse(readJson(c.req.raw.headers, await c.req.text()));
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** The endpoint named in the path, or 404 (an id of another account is no endpoint here). */
async function found(env: Env, account: string, id: string): Promise<EndpointInfo> {
  const info = endpointIdPattern.test(id) ? ((await configStub(env, account).getEndpoint(account, id)) as EndpointInfo | null) : null;
  if (!info) throw new ApiError(404, "not_found", `no webhook endpoint ${id}`);
  return info;
}

export const webhookEndpoints = new Hono<AppEnv>()
  .get("/", async (c) => {
    const account = c.get("account");
    return c.json({ data: (await configStub(c.env, account).listEndpoints(account)) as EndpointInfo[] });
  })
  .post("/", limitBody, async (c) => {
    const parsed = await body(c, endpointCreate);
    const input = { ...parsed, url: allowedUrl(c.env, parsed.url) };
    const account = c.get("account");
    const secret = newEndpointSecret();
    const created = (await configStub(c.env, account).createEndpoint(account, newEndpointId(), input, secret, c.get("key").keyId)) as
      | EndpointInfo
      | "limit"
      | "no_account";
    if (created === "limit") {
      throw new ApiError(422, "endpoint_limit", `an account has at most ${MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints: delete one first`);
    }
    if (created === "no_account") throw new ApiError(404, "not_found", "this account does not exist");
    return c.json({ ...created, secret }, 201);
  })
  .get("/:id", async (c) => c.json(await found(c.env, c.get("account"), c.req.param("id"))))
  .patch("/:id", limitBody, async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const parsed = await body(c, endpointPatch);
    const patch = parsed.url === undefined ? parsed : { ...parsed, url: allowedUrl(c.env, parsed.url) };
    const updated = (await configStub(c.env, account).updateEndpoint(account, id, patch, c.get("key").keyId)) as EndpointInfo | null;
    if (!updated) throw new ApiError(404, "not_found", `no webhook endpoint ${id}`);
    return c.json(updated);
  })
  .delete("/:id", async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    await configStub(c.env, account).deleteEndpoint(account, id, c.get("key").keyId);
    await endpointStub(c.env, account, id).purge();
    return c.body(null, 204);
  })
  .post("/:id/rotate-secret", async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const secret = newEndpointSecret();
    const rotated = (await configStub(c.env, account).rotateEndpointSecret(account, id, secret, c.get("key").keyId)) as EndpointInfo | null;
    if (!rotated) throw new ApiError(404, "not_found", `no webhook endpoint ${id}`);
    return c.json({ ...rotated, secret });
  })
  .post("/:id/test", async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const attempt = (await endpointStub(c.env, account, id).sendTest(account, id)) as AttemptView | null;
    if (!attempt) throw new ApiError(404, "not_found", `no webhook endpoint ${id}`);
    return c.json({ attempt });
  })
  .get("/:id/attempts", async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const parsed = attemptsQuery.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const { cursor, ...query } = parsed.data;
    const page = (await endpointStub(c.env, account, id).attempts({
      ...query,
      ...(cursor ? { cursor: Number(cursor) } : {}),
    })) as AttemptPage;
    return c.json(page);
  })
  .post("/:id/recover", limitBody, async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const { since, until } = await body(c, recoverRequest);
    const recovered = await endpointStub(c.env, account, id).recover(since, until ?? Date.now() + 1);
    return c.json({ recovered }, 202);
  })
  .post("/:id/events/:eventId/resend", async (c) => {
    const account = c.get("account");
    const { id } = await found(c.env, account, c.req.param("id"));
    const eventId = c.req.param("eventId");
    if (!(await endpointStub(c.env, account, id).resend(eventId))) {
      throw new ApiError(404, "not_found", `endpoint ${id} has no event ${eventId}`);
    }
    return c.json({ resent: eventId }, 202);
  });
