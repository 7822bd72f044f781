// The providers' own webhooks end to end: the stack configures every provider for its account
// through PUT /v1/providers/{provider} with the sandbox's dev credentials, the sandbox plays
// each provider's sender (its payloads, its signatures, SNS's certificate and subscription URL),
// and the Worker's /v1/webhooks/{provider}/{account} verifies, normalizes and applies them.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SMS_SENDERS } from "../../sandbox/stack.ts";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

const EMAIL_PROVIDERS = ["sendgrid", "ses", "mailgun", "postmark", "resend", "standard"] as const;

const fresh = (label: string) => `${label}-${randomUUID().slice(0, 8)}@example.com`;
let n = 0;
const handset = () => `+1415${String(300 + n++).padStart(3, "0")}${String(Math.floor(Math.random() * 1e4)).padStart(4, "0")}`;

/** The sandbox posts the provider's webhook to the stack (its default target) and answers with the Worker's answer. */
async function emit(body: Record<string, unknown>): Promise<{ status: number; body: any; payload: any }> {
  const answer = await stack.sandboxPost("/_sandbox/webhooks/emit", body);
  expect(answer?.status, JSON.stringify(answer)).toBeTypeOf("number");
  return answer;
}

async function suppressed(channel: string, recipient: string): Promise<any> {
  let last: unknown;
  return waitFor(
    async () => {
      const res = await stack.api(`/v1/suppressions/${channel}/${encodeURIComponent(recipient)}`);
      last = res.body;
      return res.status === 200 ? res.body : null;
    },
    () => `${channel} ${recipient} to be suppressed (last answer ${JSON.stringify(last)})`,
  );
}

describe("the stack's wiring", () => {
  it("configured every provider for its account and points the sandbox at the Worker", async () => {
    expect(stack.providerWebhooks?.account).toBe(stack.account);
    expect(stack.providerWebhooks?.urls.sendgrid).toBe(`${stack.workerUrl}/v1/webhooks/sendgrid/${stack.account}`);
    expect(stack.workerVars.SNS_ORIGIN_PATTERN).toBe(new URL(stack.sandbox.httpUrl).origin.replace(/\./g, "\\."));
    const config = await stack.sandboxGet("/_sandbox/webhooks/config");
    for (const provider of [...EMAIL_PROVIDERS, "vonage"]) {
      const res = await stack.api(`/v1/providers/${provider}`);
      expect(res.status, `${provider}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(JSON.stringify(res.body), provider).not.toBe("{}");
    }
    // Secrets are masked on read; what is not secret reads back as the sandbox made it.
    const ses = await stack.api("/v1/providers/ses");
    expect(JSON.stringify(ses.body)).toContain(config.ses.topicArns[0]);
  });

  it("lets event endpoints be plain http on the sandbox, and connects its receiver when the Worker has /v1/webhook-endpoints", async () => {
    expect(stack.workerVars.WEBHOOK_DEV_HOSTS).toBe(new URL(stack.sandbox.httpUrl).host);
    const endpoints = await stack.api("/v1/webhook-endpoints");
    if (endpoints.status === 404) return expect(stack.webhookReceiver).toBeNull();
    const url = `${stack.sandbox.httpUrl}/_sandbox/hooks/dev`;
    expect(stack.webhookReceiver).toEqual({ name: "dev", url, endpointId: expect.any(String), secret: expect.any(String) });
    expect(endpoints.body.data).toContainEqual(expect.objectContaining({ id: stack.webhookReceiver?.endpointId, url }));
  });
});

describe("a hard bounce from each email provider suppresses the address", () => {
  it.each(EMAIL_PROVIDERS)("%s", async (provider) => {
    const to = fresh(`gone-${provider}`);
    const answer = await emit({ provider, event: "bounce", recipient: to });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1, skipped: [] });
    const entry = await suppressed("email", to);
    expect(entry.reason).toBe("hard_bounce");
  });
});

describe("Amazon SES through SNS", () => {
  it("a SubscriptionConfirmation is confirmed by the Worker at the sandbox's SubscribeURL", async () => {
    const answer = await emit({ provider: "ses", event: "subscribe", recipient: "unused@example.com" });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const { Token: token, TopicArn: topicArn } = answer.payload;
    expect(answer.body).toEqual({ confirmed: topicArn });
    const confirmations = await stack.sandboxGet("/_sandbox/webhooks/ses/confirmations");
    expect(confirmations).toContainEqual({ topicArn, token, at: expect.any(String) });
  });
});

describe("Vonage", () => {
  it("a delivery receipt for a dead number (err-code 3) suppresses it", async () => {
    const dead = handset();
    const answer = await emit({ provider: "vonage", event: "bounce", recipient: dead });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1 });
    expect((await suppressed("sms", dead)).reason).toBe("hard_bounce");
  });

  it("an inbound STOP to a dev number suppresses that handset for that sender", async () => {
    const from = handset();
    const sender = DEV_SMS_SENDERS[0]!;
    const answer = await emit({ provider: "vonage", event: "mo", recipient: from, sender, text: "STOP" });
    expect(answer.status, JSON.stringify(answer.body)).toBe(204);
    expect((await suppressed("sms", `${from}:${sender}`)).reason).toBe("sms_stop");
    // The pair only: the handset itself is not suppressed for the account's other senders.
    expect((await stack.api(`/v1/suppressions/sms/${encodeURIComponent(from)}`)).status).toBe(404);
  });
});

describe("our id, echoed back", () => {
  it("a SendGrid event carrying lasthop_id lands on the message lasthop sent", async () => {
    const to = fresh("ours");
    const sent = await stack.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ channel: "email", from: "news@lasthop.test", to, subject: "Hello", text: "Body" }),
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const answer = await emit({ provider: "sendgrid", event: "delivered", recipient: to, lasthopId: sent.body.id });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const sgEventId = answer.payload[0].sg_event_id;
    const message = await stack.waitForStatus(sent.body.id, "delivered");
    expect(message.events.map((e: { id: string }) => e.id)).toContain(`sendgrid:${sgEventId}`);
    expect(message.external).toBeUndefined();
  });
});
