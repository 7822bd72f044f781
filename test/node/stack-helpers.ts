// Shared by the end-to-end tests: one stack per file on free ports with fresh keys and state.
import { createECDH, createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { documentedAnswer, findRoute } from "../../src/api/openapi/lookup.ts";
import { startStack, type Stack, type StackOptions } from "../../sandbox/stack.ts";
import { waitFor } from "../wait.ts";
import type { components, paths } from "./api-types.d.ts";
import { control } from "./fixtures/sandbox.ts";

export type TestStack = Stack & {
  apiKey: string;
  secret: string;
  account: string;
  api(path: string, init?: RequestInit): Promise<{ status: number; body: any }>;
  /** The Worker's API through a client typed from the OpenAPI document (docs/openapi.json), with the account's key. */
  client: Client<paths>;
  sandboxGet(path: string): Promise<any>;
  sandboxPost(path: string, body?: unknown): Promise<any>;
  /** The message once it has `status`, as the typed client reads it. */
  waitForMessage(id: string, status: string, ms?: number): Promise<Message>;
  /** The same, untyped, for the tests that still read answers as `any`. */
  waitForStatus(id: string, status: string, ms?: number): Promise<any>;
  /** A sample's value in the bridge's /metrics (the first line of that name; 0 when absent). */
  bridgeMetric(name: string): Promise<number>;
  stop(): Promise<void>;
};

export type Message = components["schemas"]["Message"];

/**
 * Holds an answer to the document: a status the operation does not document, or a body its zod
 * schema (the one the document was generated from) refuses, throws, so an end-to-end test fails
 * when the behaviour drifts from the description.
 */
export async function assertDocumented(method: string, url: string, response: Response): Promise<void> {
  // A 5xx that is not JSON is wrangler dev's own ("Error: Network connection lost" under load), not the app's answer.
  if (response.status >= 500 && !/json/.test(response.headers.get("content-type") ?? "")) return;
  const path = new URL(url).pathname;
  const route = findRoute(method, decodeURIComponent(path));
  if (!route) throw new Error(`${method} ${path} is not in the OpenAPI document`);
  const answer = documentedAnswer(route, response.status);
  if (!answer) throw new Error(`${method} ${route.path} answered ${response.status}, which the document does not list`);
  if (!answer.schema || !answer.contentType.includes("json")) return;
  const parsed = answer.schema.safeParse(await response.clone().json());
  if (!parsed.success) {
    throw new Error(
      `${method} ${route.path} ${response.status}: the answer is not the documented one: ${JSON.stringify(parsed.error.issues)}`,
    );
  }
}

/** Every answer the typed client gets, held to the document. */
export const conformsToDocument: Middleware = {
  onResponse: ({ request, response }) => assertDocumented(request.method, request.url, response),
};

export async function startTestStack(extra: Partial<StackOptions> = {}): Promise<TestStack> {
  const apiKey = randomBytes(16).toString("hex");
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const account = "e2e";
  const vapid = createECDH("prime256v1");
  vapid.generateKeys();
  const stateDir = mkdtempSync(join(tmpdir(), "lasthop-e2e-"));
  const stack = await startStack({
    workerPort: 0,
    bridgePort: 0,
    inboundSmtpPort: 0,
    httpPort: 0,
    webpushPort: 0,
    apnsPort: 0,
    smtpPort: 0,
    emailAccounts: [account],
    smsAccounts: [account],
    persistTo: stateDir,
    // The stack configures every provider's webhooks for the account with this key.
    accountKey: apiKey,
    vars: {
      API_KEYS: JSON.stringify({ [createHash("sha256").update(apiKey).digest("hex")]: account }),
      WEBHOOK_SECRET: secret,
      VAPID_PUBLIC_KEY: vapid.getPublicKey().toString("base64url"),
      VAPID_PRIVATE_KEY: vapid.getPrivateKey().toString("base64url"),
      VAPID_SUBJECT: "mailto:e2e@lasthop.dev",
      RETRY_BASE_SECONDS: "1",
      EMAIL_RETRY_BASE_SECONDS: "1",
      UNSUBSCRIBE_SECRET: randomBytes(32).toString("hex"),
      // A test's own vars (ADMIN_API_KEY, …) join these rather than replace them.
      ...extra.vars,
    },
    ...Object.fromEntries(Object.entries(extra).filter(([name]) => name !== "vars")),
  });
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${stack.workerUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...init.headers },
    });
    // Untyped, but every answer is still held to the OpenAPI document.
    await assertDocumented(init.method ?? "GET", res.url, res);
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const client = createClient<paths>({ baseUrl: stack.workerUrl, headers: { authorization: `Bearer ${apiKey}` } });
  client.use(conformsToDocument);
  const sandboxGet = async (path: string) => (await control(stack.sandbox, "GET", path)).json();
  const sandboxPost = async (path: string, body: unknown = {}) =>
    (await control(stack.sandbox, "POST", path, body)).json().catch(() => null);
  const waitForMessage = (id: string, status: string, ms?: number): Promise<Message> => {
    let seen: unknown;
    return waitFor(
      async () => {
        const { data } = await client.GET("/v1/messages/{id}", { params: { path: { id } } });
        seen = data?.status;
        return seen === status ? data! : null;
      },
      () => `message ${id} to be ${status} (it is ${String(seen)})`,
      ms,
    );
  };
  const bridgeMetric = async (name: string) => {
    const text = await (await fetch(`${stack.bridgeUrl}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
  };
  return {
    ...stack,
    apiKey,
    secret,
    account,
    api,
    client,
    sandboxGet,
    sandboxPost,
    waitForMessage,
    waitForStatus: waitForMessage,
    bridgeMetric,
    stop: async () => {
      await stack.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
