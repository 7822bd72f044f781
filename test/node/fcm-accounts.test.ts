// Two accounts' own FCM service accounts against the sandbox's OAuth and FCM: each signs its
// assertion with the edge's code (src/core/google-oauth.ts, as TokenDO does), gets its own access
// token, and sends to its own project; one project's token cannot send to the other's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FCM_SCOPE } from "../../src/core/fcm.ts";
import { parseServiceAccount, signAssertion, tokenRequestBody, tokenResponse, type ServiceAccount } from "../../src/core/google-oauth.ts";
import { generateServiceAccount } from "../../sandbox/keys.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

let sandbox: TestSandbox;
let a: ServiceAccount;
let b: ServiceAccount;

async function accessToken(sa: ServiceAccount): Promise<string> {
  const res = await fetch(sa.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: tokenRequestBody(await signAssertion(sa, FCM_SCOPE)),
  });
  const body = tokenResponse.parse(await res.json());
  expect(res.status).toBe(200);
  return body.access_token;
}

async function registrationToken(name: string): Promise<string> {
  return ((await (await control(sandbox, "POST", "/_sandbox/fcm/tokens", { name })).json()) as { token: string }).token;
}

function send(project: string, accessTokenValue: string, to: string): Promise<Response> {
  return fetch(`${sandbox.httpUrl}/fcm/v1/projects/${project}/messages:send`, {
    method: "POST",
    headers: { authorization: `Bearer ${accessTokenValue}`, "content-type": "application/json" },
    body: JSON.stringify({ message: { token: to, notification: { title: project } } }),
  });
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
  const tokenUri = `${sandbox.httpUrl}/oauth/token`;
  const made = [generateServiceAccount({ tokenUri, projectId: "project-a" }), generateServiceAccount({ tokenUri, projectId: "project-b" })];
  for (const sa of made) {
    const res = await control(sandbox, "POST", "/_sandbox/fcm/service-accounts", {
      clientEmail: sa.clientEmail,
      projectId: sa.projectId,
      publicKeyPem: sa.publicKeyPem,
    });
    expect(res.status).toBe(201);
  }
  [a, b] = made.map((sa) => parseServiceAccount(sa.json)!) as [ServiceAccount, ServiceAccount];
});

afterAll(async () => sandbox?.close());

describe("FCM with accounts' own service accounts", () => {
  it("each service account gets its own token and sends to its own project; never to the other's", async () => {
    const [tokenA, tokenB] = await Promise.all([accessToken(a), accessToken(b)]);
    expect(tokenA).not.toBe(tokenB);
    const [toA, toB] = await Promise.all([registrationToken("phone-a"), registrationToken("phone-b")]);
    expect((await send("project-a", tokenA, toA)).status).toBe(200);
    expect((await send("project-b", tokenB, toB)).status).toBe(200);
    // A's token at B's project is an IAM refusal, as Google answers it.
    const crossed = await send("project-b", tokenA, toB);
    expect(crossed.status).toBe(403);
    expect(((await crossed.json()) as { error: { status: string } }).error.status).toBe("PERMISSION_DENIED");
  });
});
