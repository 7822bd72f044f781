/**
 * The account's configuration sections over HTTP, one shape for all: `GET` answers the section
 * with its secrets masked, `PUT` validates and replaces it (a secret sent back masked, as a read
 * showed it, keeps the stored one), `DELETE` removes it. Every write is in the audit log.
 */
import { Hono } from "hono";
import { vapidRequest } from "../core/api-requests.ts";
import { toBase64Url } from "../core/bytes.ts";
import { keepMaskedSecrets, maskedSecretPaths, providerNames, sections, type SectionName } from "../core/config/sections.ts";
import { smsClaims } from "../core/sms/account.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import { forgetAccount, forgetClaims } from "../state/config-read.ts";
import type { Claim, ClaimKind } from "../state/directory.ts";
import { configStub, directoryStub } from "../state/stubs.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

/** What a section claims in the directory (feedback that names no account finds it by these). */
function claimsOf(name: string, value: unknown): { kinds: ClaimKind[]; claims: Claim[] } | null {
  if (name === "email") {
    const bounceDomain = (value as { bounceDomain?: string } | null)?.bounceDomain;
    return { kinds: ["bounce_domain"], claims: bounceDomain ? [{ kind: "bounce_domain", value: bounceDomain.toLowerCase() }] : [] };
  }
  if (name === "sms") return { kinds: ["sms_sender", "sms_bridge_route"], claims: smsClaims((value ?? undefined) as never) };
  return null;
}

async function putSection(env: Env, account: string, actor: string, name: SectionName, body: unknown): Promise<unknown> {
  const stub = configStub(env, account);
  const merged = keepMaskedSecrets(name, body, await stub.sectionOpened(account, name));
  const parsed = sections[name]!.safeParse(merged);
  if (!parsed.success) throw validationError(parsed.error);
  const still = maskedSecretPaths(name, parsed.data);
  if (still.length > 0) {
    throw new ApiError(
      422,
      "secret_masked",
      "a secret holds a masked value that matches no stored secret: send the secret itself",
      still.map((path) => ({ path, message: "send the full secret" })),
    );
  }
  const shown = await stub.putSection(account, name, parsed.data, actor);
  const claims = claimsOf(name, parsed.data);
  if (claims) await directoryStub(env).setClaims(account, claims.kinds, claims.claims);
  forgetAccount(account);
  forgetClaims();
  return shown;
}

async function deleteSection(env: Env, account: string, actor: string, name: SectionName): Promise<void> {
  if (!(await configStub(env, account).deleteSection(account, name, actor))) throw new ApiError(404, "not_found", `no ${name} settings`);
  const claims = claimsOf(name, null);
  if (claims) await directoryStub(env).setClaims(account, claims.kinds, []);
  forgetAccount(account);
  forgetClaims();
}

/** GET, PUT and DELETE of one section at `path` of the router. */
function sectionRoutes(router: Hono<AppEnv>, path: string, nameOf: (param: string | undefined) => SectionName | null) {
  const name = (param: string | undefined) => {
    const section = nameOf(param);
    if (!section) throw new ApiError(404, "not_found", `no settings ${param}`);
    return section;
  };
  return router
    .get(path, async (c) => {
      const account = c.get("account");
      const section = name(c.req.param("provider"));
      const shown = await configStub(c.env, account).section(account, section);
      if (shown === null) throw new ApiError(404, "not_found", `no ${section} settings`);
      return c.json(shown);
    })
    .put(path, limitBody, async (c) => {
      const section = name(c.req.param("provider"));
      const body = readJson(c.req.raw.headers, await c.req.text());
      return c.json(await putSection(c.env, c.get("account"), c.get("key").keyId, section, body));
    })
    .delete(path, async (c) => {
      await deleteSection(c.env, c.get("account"), c.get("key").keyId, name(c.req.param("provider")));
      return c.body(null, 204);
    });
}

/** `/v1/email/settings`: the relay, the bounce domain, DKIM and sending domains besides `/v1/domains`. */
export const emailSettings = sectionRoutes(new Hono<AppEnv>(), "/settings", () => "email");

/** `/v1/email/delivery`: IP pools and their warm-up, per-destination throttles, reputation thresholds (core/ip-pools.ts). */
export const deliverySettings = sectionRoutes(new Hono<AppEnv>(), "/delivery", () => "delivery");

/** `/v1/email/tracking`: open and click tracking, and what their events keep of the reader (core/tracking.ts). */
export const trackingSettings = sectionRoutes(new Hono<AppEnv>(), "/tracking", () => "tracking");

/** `/v1/sms/settings`: routes (REST auth tokens are secrets), senders, keywords and replies. */
export const smsSettings = sectionRoutes(new Hono<AppEnv>(), "/settings", () => "sms");

/** `/v1/retention`: how long messages, timelines and bodies are kept (see core/retention.ts). */
export const retention = sectionRoutes(new Hono<AppEnv>(), "/", () => "retention");

/** `/v1/providers/:provider`: each provider's credentials and webhook secrets. */
export const providers = sectionRoutes(new Hono<AppEnv>(), "/:provider", (p) =>
  providerNames.includes(p as never) ? (`provider:${p}` as SectionName) : null,
);

/**
 * `/v1/push/apns`, `/v1/push/fcm`, `/v1/push/webpush`: the account's own push credentials.
 * `POST /v1/push/webpush/keys {subject}` generates a VAPID key pair here and answers its
 * public key (the one to give the browser's PushManager.subscribe).
 */
export const push = sectionRoutes(
  sectionRoutes(
    sectionRoutes(new Hono<AppEnv>(), "/apns", () => "apns"),
    "/fcm",
    () => "fcm",
  ),
  "/webpush",
  () => "webpush",
).post("/webpush/keys", limitBody, async (c) => {
  const parsed = vapidRequest.safeParse(readJson(c.req.raw.headers, await c.req.text()));
  if (!parsed.success) throw validationError(parsed.error);
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = toBase64Url((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const section = { subject: parsed.data.subject, publicKey, privateKey: jwk.d! };
  const shown = await putSection(c.env, c.get("account"), c.get("key").keyId, "webpush", section);
  return c.json(shown, 201);
});
