/**
 * The fuzz's credentials: one account with every scope and every provider's webhook section
 * set, a spare key and a spare account for the routes that revoke or disable (so the fuzz never
 * locks itself out), a dashboard session, and a signer for each door, so a fuzzed request can
 * carry what lets it past authentication and into the handler.
 */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { twilioSignature } from "../../../src/core/sms/twilio.ts";
import { doorSecret, signedHeaders } from "../../../src/core/standard-webhooks.ts";
import { SESSION_COOKIE } from "../../../src/dashboard/session.ts";
import { ACCOUNT_A, TEST_TWILIO } from "../../fixtures.ts";
import { adminAccount, api, BASE, json, unique, type AdminAccount } from "../helpers.ts";
import { mailgunSignature, sendgridSigner, standardHeaders, svixHeaders, vonageParams, whsec } from "../provider-signers.ts";

export type FuzzAccount = {
  account: AdminAccount;
  /** A second key of the account: what DELETE /v1/api-keys/{id} and the dashboard's revoke may take. */
  spareKeyId: string;
  /** Another account: what PATCH /v1/admin/accounts/{id} may disable. */
  spareAccountId: string;
  cookie: string;
  csrf: string;
  sign: Signers;
  provisionProviders(): Promise<void>;
};

type Signers = {
  sendgrid: Awaited<ReturnType<typeof sendgridSigner>>;
  resend: string;
  standard: string;
  mailgun: string;
  postmark: { user: string; pass: string };
  vonage: string;
};

export async function fuzzAccount(): Promise<FuzzAccount> {
  const first = await adminAccount("Fuzz Co");
  // A key with every scope and a rate the fuzz never reaches: requests get to the handler, not the limiter.
  const scopes = ["send", "read", "suppressions:write", "config:write", "keys:write"];
  const fast = await json(
    await api("/v1/api-keys", { method: "POST", json: { name: "fuzz", scopes, ratePerSecond: 100_000 }, key: first.key }),
  );
  expect(fast.status).toBe(201);
  const account: AdminAccount = { ...first, key: fast.body.key, keyId: fast.body.id };
  const spare = await json(await api("/v1/api-keys", { method: "POST", json: { name: "spare", scopes: ["read"] }, key: account.key }));
  expect(spare.status).toBe(201);
  const spareAccount = await adminAccount("Spare Co");
  const sign: Signers = {
    sendgrid: await sendgridSigner(),
    resend: whsec(),
    standard: whsec(),
    mailgun: `key-${unique()}${unique()}`,
    postmark: { user: "pm", pass: `pw-${unique()}${unique()}` },
    vonage: `sig-${unique()}${unique()}`,
  };
  // Every provider's section, so each provider webhook reaches its verifier and normalizer.
  const provisionProviders = async () => {
    const sections: Record<string, unknown> = {
      sendgrid: { webhookPublicKey: sign.sendgrid.publicKey },
      resend: { webhookSecret: sign.resend },
      standard: {
        webhookSecret: sign.standard,
        mapping: { providerMessageId: "data.id", recipient: "data.to", types: { "email.bounced": "bounced" } },
      },
      mailgun: { webhookSigningKey: sign.mailgun, domain: "mg.example.com" },
      postmark: { webhookUsername: sign.postmark.user, webhookPassword: sign.postmark.pass },
      vonage: { signatureSecret: sign.vonage, signatureMethod: "sha256" },
      ses: { region: "eu-west-1", topicArns: ["arn:aws:sns:eu-west-1:123456789012:lasthop"] },
    };
    for (const [name, body] of Object.entries(sections)) {
      const res = await api(`/v1/providers/${name}`, { method: "PUT", json: body, key: account.key });
      expect(res.status, `${name}: ${await res.clone().text()}`).toBe(200);
    }
  };
  await provisionProviders();
  const { cookie, csrf } = await dashboardSession(account.key);
  return { account, spareKeyId: spare.body.id, spareAccountId: spareAccount.id, cookie, csrf, sign, provisionProviders };
}

export async function dashboardSession(key: string): Promise<{ cookie: string; csrf: string }> {
  const signIn = await SELF.fetch(`${BASE}/dashboard/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    body: new URLSearchParams({ key, next: "/dashboard" }).toString(),
  });
  expect(signIn.status).toBe(303);
  const cookie = new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(signIn.headers.get("set-cookie") ?? "")?.[1];
  expect(cookie).toBeTruthy();
  const page = await (await SELF.fetch(`${BASE}/dashboard/suppressions`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  expect(csrf).toBeTruthy();
  return { cookie: cookie!, csrf: csrf! };
}

/** The request a door would let in: headers (and, for some doors, a new body or query) signed for `text`. */
export type Signed = { headers: Record<string, string>; body?: string; query?: string };

const text = (body: string | Uint8Array | undefined) => (typeof body === "string" ? body : body ? new TextDecoder().decode(body) : "");

const stringEntries = (value: unknown): Record<string, string> =>
  value && typeof value === "object" && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"))
    : {};

function parsed(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Signs a bridge door's body with that door's key, as the bridge does. */
export async function bridgeSigned(path: string, body: string | Uint8Array | undefined): Promise<Signed> {
  return { headers: await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, path), text(body)) };
}

/**
 * A Twilio status callback or MO for account A's REST route, signed with its token over the URL
 * (as the Worker parses it) and the form. The fuzzed query keeps only its `message`.
 */
export async function twilioSigned(query: string, body: string | Uint8Array | undefined): Promise<Signed> {
  const message = new URLSearchParams(query).get("message");
  const signedQuery = `account=${ACCOUNT_A}&route=rest${message !== null ? `&message=${encodeURIComponent(message)}` : ""}`;
  const entries = [...new URLSearchParams(text(body))];
  const url = new URL(`${BASE}/v1/webhooks/twilio?${signedQuery}`).href;
  return { headers: { "x-twilio-signature": await twilioSignature(TEST_TWILIO.authToken, url, entries) }, query: signedQuery };
}

/** A provider's webhook signed as that provider signs it, with the fuzz account's secret. */
export async function providerSigned(
  fuzz: FuzzAccount,
  provider: string,
  method: string,
  query: string,
  body: string | Uint8Array | undefined,
): Promise<Signed> {
  const raw = text(body);
  const { sign } = fuzz;
  switch (provider) {
    case "sendgrid":
      return { headers: await sign.sendgrid.headers(raw) };
    case "resend":
      return { headers: svixHeaders(sign.resend, raw) };
    case "standard":
      return { headers: standardHeaders(sign.standard, raw) };
    case "postmark":
      return { headers: { authorization: `Basic ${btoa(`${sign.postmark.user}:${sign.postmark.pass}`)}` } };
    case "mailgun": {
      // Mailgun's signature rides in the body: a valid-shaped body gets a real one.
      const value = parsed(raw);
      const signed = {
        ...(value && typeof value === "object" ? value : { "event-data": value }),
        signature: await mailgunSignature(sign.mailgun),
      };
      return { headers: {}, body: JSON.stringify(signed) };
    }
    case "vonage": {
      if (method === "GET") {
        const params = await vonageParams(sign.vonage, Object.fromEntries(new URLSearchParams(query)), "sha256");
        return { headers: {}, query: new URLSearchParams(params).toString() };
      }
      const params = await vonageParams(sign.vonage, stringEntries(parsed(raw)), "sha256");
      return { headers: { "content-type": "application/json" }, body: JSON.stringify(params) };
    }
    default:
      // SES signs with SNS's certificate: its requests go unsigned and stop at the verifier.
      return { headers: {} };
  }
}
