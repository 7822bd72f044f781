// The five ESP senders (src/channels/esp/) against the sandbox's simulators of the providers'
// send APIs (sandbox/esp.ts), which check each request as the provider documents it (SES: a real
// SigV4 check): acceptance with our id recorded and the provider's id returned, and the answers
// and failures that decide failover — throttling, refused recipients, refused credentials, a 503,
// a dropped connection and a hung one.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sendEsp } from "../../src/channels/esp/index.ts";
import type { AccountRuntime } from "../../src/core/config/runtime.ts";
import type { EspRoute, EspType } from "../../src/core/email-routes.ts";
import type { EspMessage } from "../../src/core/esp/message.ts";
import { passesOn, routeHealthy } from "../../src/core/routes.ts";
import { type EspConfig, ESP_PROVIDERS, espConfig, resetEsp } from "./fixtures/esp.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Kept = { provider: string; messageId: string; to: string[]; from: string | null; subject: string | null; lasthopId: string | null };

const PROVIDERS = ESP_PROVIDERS satisfies readonly EspType[];

let sandbox: TestSandbox;
let cfg: EspConfig;

beforeAll(async () => {
  sandbox = await startTestSandbox();
  cfg = await espConfig(sandbox);
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(async () => {
  await resetEsp(sandbox);
});

async function behave(provider: EspType, mode: string): Promise<void> {
  expect((await control(sandbox, "POST", `/_sandbox/esp/${provider}/behaviour`, { mode })).status).toBe(200);
}

async function kept(provider: EspType): Promise<Kept[]> {
  return (await (await control(sandbox, "GET", `/_sandbox/esp/received?provider=${provider}`)).json()) as Kept[];
}

function route(type: EspType): EspRoute {
  return { name: `${type}-route`, type, baseUrl: cfg[type].baseUrl } as EspRoute;
}

/** The account's provider sections, as the sandbox's credentials (one field spoiled on request). */
function sections(wrong?: EspType): AccountRuntime["sections"] {
  const bad = (type: EspType, value: string) => (wrong === type ? `${value.slice(0, -4)}XXXX` : value);
  return {
    "provider:sendgrid": { apiKey: bad("sendgrid", cfg.sendgrid.apiKey) },
    "provider:ses": { region: cfg.ses.region, accessKeyId: cfg.ses.accessKeyId, secretAccessKey: bad("ses", cfg.ses.secretAccessKey) },
    "provider:mailgun": { apiKey: bad("mailgun", cfg.mailgun.apiKey), domain: cfg.mailgun.domain },
    "provider:postmark": { serverToken: bad("postmark", cfg.postmark.serverToken) },
    "provider:resend": { apiKey: bad("resend", cfg.resend.apiKey) },
  };
}

/** A message as the relay would compose it (CRLF, List-Unsubscribe), to `to`. */
function message(to = "alice@example.com"): EspMessage {
  const id = randomUUID();
  const unsubscribe = `<https://lasthop.test/u/t${id.slice(0, 8)}>, <mailto:unsubscribe+${id}@bounce.lasthop.test>`;
  const headers = {
    "X-Lasthop-Message-Id": id,
    "Feedback-ID": "welcome:acct_esp:lasthop:sandbox",
    "List-Unsubscribe": unsubscribe,
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
  };
  const raw = [
    "From: Acme <news@acme.test>",
    `To: ${to}`,
    "Subject: Welcome",
    "Date: Sun, 06 Dec 2026 02:00:00 +0000",
    `Message-ID: <${id}@acme.test>`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
    "",
    "Welcome aboard.",
    "",
  ].join("\r\n");
  return {
    id,
    account: "acct_esp",
    request: {
      channel: "email",
      from: "news@acme.test",
      fromName: "Acme",
      to,
      subject: "Welcome",
      text: "Welcome aboard.",
      html: "<p>Welcome aboard.</p>",
      tags: ["welcome", "onboarding flow"],
    },
    raw,
    headers,
  };
}

describe.each(PROVIDERS)("%s", (type) => {
  it("accepts: the simulator keeps the message with our lasthop_id, and the outcome carries its id", async () => {
    const msg = message();
    const outcome = await sendEsp(msg, route(type), sections());
    expect(outcome).toMatchObject({ kind: "accepted", detail: { providerMessageId: expect.any(String) } });
    const [one, ...rest] = await kept(type);
    expect(rest).toEqual([]);
    expect(one).toMatchObject({ lasthopId: msg.id, to: [expect.stringContaining("alice@example.com")], subject: "Welcome" });
    // Mailgun answers the id in angle brackets; its webhooks (and so our outcome) name it bare.
    expect(outcome.detail.providerMessageId).toBe(one!.messageId.replace(/^<(.*)>$/, "$1"));
  });

  it('a "throttle" recipient is throttled the first time: retry, not submitted, not passed on', async () => {
    const msg = message(`throttle-${type}@example.com`);
    const outcome = await sendEsp(msg, route(type), sections());
    expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "throttled", submitted: "no" } });
    expect(passesOn(outcome)).toBe(false);
    expect(routeHealthy(outcome)).toBe(true);
    expect(await sendEsp(msg, route(type), sections())).toMatchObject({ kind: "accepted" });
  });

  it("refused credentials: route_auth, not submitted, passed on to the next route", async () => {
    const outcome = await sendEsp(message(), route(type), sections(type));
    expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "route_auth", submitted: "no" } });
    expect(passesOn(outcome)).toBe(true);
    expect(routeHealthy(outcome)).toBe(false);
    expect(await kept(type)).toEqual([]);
  });

  it("missing credentials: route_auth with a hint, nothing sent", async () => {
    const outcome = await sendEsp(message(), route(type), {});
    expect(outcome).toMatchObject({
      kind: "retry",
      detail: { reason: "route_auth", submitted: "no", hint: expect.stringContaining(`provider:${type}`) },
    });
    expect(passesOn(outcome)).toBe(true);
  });

  it("the provider's 503: route_down, not submitted, passed on", async () => {
    await behave(type, "503");
    const outcome = await sendEsp(message(), route(type), sections());
    expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "route_down", status: 503, submitted: "no" } });
    expect(passesOn(outcome)).toBe(true);
    expect(routeHealthy(outcome)).toBe(false);
  });

  it("a connection dropped after the request was read: retry, maybe submitted (pinned)", async () => {
    await behave(type, "drop");
    const outcome = await sendEsp(message(), route(type), sections());
    expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "network_error", submitted: "maybe" } });
    expect(passesOn(outcome)).toBe(false);
    expect(routeHealthy(outcome)).toBe(false);
  });

  it("a provider that never answers: timeout, maybe submitted", async () => {
    await behave(type, "hang");
    try {
      const started = Date.now();
      const outcome = await sendEsp(message(), route(type), sections(), { timeoutMs: 500 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "timeout", submitted: "maybe" } });
      expect(passesOn(outcome)).toBe(false);
    } finally {
      await behave(type, "ok");
    }
  });
});

describe("refusals at send time", () => {
  it('Postmark refuses an "inactive" recipient (ErrorCode 406): a hard bounce, suppressed', async () => {
    const outcome = await sendEsp(message("inactive@example.com"), route("postmark"), sections());
    expect(outcome).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "suppressed", status: 422, errorCode: 406 } });
  });

  it('SES answers an "inactive" recipient with MessageRejected: this message is refused', async () => {
    const outcome = await sendEsp(message("inactive@example.com"), route("ses"), sections());
    expect(outcome).toMatchObject({ kind: "failed", detail: { reason: "rejected", status: 400, errorCode: "MessageRejected" } });
  });

  it("Resend answers a retry with the same Idempotency-Key with the first id, sending once", async () => {
    const msg = message();
    const first = await sendEsp(msg, route("resend"), sections());
    const again = await sendEsp(msg, route("resend"), sections());
    expect(again.detail.providerMessageId).toBe(first.detail.providerMessageId);
    expect(await kept("resend")).toHaveLength(1);
  });

  it("SES signs for the section's region: another region is refused as credentials", async () => {
    const wrongRegion = { ...sections(), "provider:ses": { ...sections()["provider:ses"], region: "eu-west-1" } };
    const outcome = await sendEsp(message(), route("ses"), wrongRegion);
    expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "route_auth", status: 403, errorCode: "InvalidSignatureException" } });
  });

  it("bad input never throws: an unsendable credential or an unknown route type is an outcome, nothing sent", async () => {
    const broken = {
      ...sections(),
      "provider:sendgrid": { apiKey: "SG.bad\nkey" },
      "provider:mailgun": { apiKey: "kéy\u2603", domain: "mg" },
    };
    for (const type of ["sendgrid", "mailgun"] as const) {
      const outcome = await sendEsp(message(), route(type), broken);
      expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "route_auth", submitted: "no" } });
      expect(await kept(type)).toEqual([]);
    }
    const unknown = await sendEsp(message(), { name: "x", type: "sparkpost" } as unknown as EspRoute, sections());
    expect(unknown).toMatchObject({ kind: "retry", detail: { reason: "route_auth", submitted: "no" } });
  });

  it("an unreachable route: network_error, maybe submitted", async () => {
    const closed = { name: "gone", type: "resend", baseUrl: "http://127.0.0.1:9" } as EspRoute;
    const outcome = await sendEsp(message(), closed, sections(), { timeoutMs: 2_000 });
    expect(outcome).toMatchObject({ kind: "retry", detail: { submitted: "maybe" } });
  });
});
