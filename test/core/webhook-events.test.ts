import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { eventTypes } from "../../src/core/model.ts";
import {
  endpointWants,
  eventChannel,
  eventMessageId,
  messageEventType,
  webhookEvent,
  webhookEventTypes,
  type WebhookEvent,
} from "../../src/core/webhook-events.ts";
import { SCHEMA_FILE, schemaText } from "../tools/webhook-schemas.ts";

const message = {
  id: "5f0c6d1e-1111-4a2b-8c3d-000000000001",
  channel: "email",
  to: "ann@example.com",
  status: "bounced",
  tags: ["invoice"],
};

/** One body of each kind, as the emitters build them. */
const samples: Record<string, WebhookEvent> = {
  bounced: {
    type: "message.bounced",
    timestamp: "2026-12-05T10:00:01.000Z",
    data: {
      id: `${message.id}:bridge:dsn:1`,
      provider: "bridge",
      occurredAt: "2026-12-05T10:00:00.000Z",
      receivedAt: "2026-12-05T10:00:01.000Z",
      detail: { class: "hard", reason: "userunknown", status: "5.1.1", diagnostic: "550 5.1.1 no such user" },
      message: { ...message, channel: "email", status: "bounced", metadata: { order: 7 } },
    },
  } as WebhookEvent,
  suppressed: {
    type: "recipient.suppressed",
    timestamp: "2026-12-05T10:00:02.000Z",
    data: {
      id: "email:ann@example.com:suppressed:2026-12-05T10:00:00.000Z",
      channel: "email",
      recipient: "ann@example.com",
      reason: "hard_bounce",
      at: "2026-12-05T10:00:00.000Z",
      messageId: message.id,
    },
  },
  inbound: {
    type: "sms.inbound",
    timestamp: "2026-12-05T10:00:03.000Z",
    data: {
      id: "mo-1",
      from: "+15550001111",
      to: "+15005550006",
      body: "STOP",
      keyword: "stop",
      replyId: null,
      route: "smpp",
      provider: "smpp",
      receivedAt: "2026-12-05T10:00:03.000Z",
    },
  },
  disabled: {
    type: "endpoint.disabled",
    timestamp: "2026-12-05T10:00:04.000Z",
    data: {
      id: "ep_1:disabled:1",
      endpointId: "ep_1",
      url: "https://hooks.example.com/x",
      reason: "gone",
      disabledAt: "2026-12-05T10:00:04.000Z",
      failingSince: null,
    },
  },
  test: { type: "test", timestamp: "2026-12-05T10:00:05.000Z", data: { id: "test_1", endpointId: "ep_1", message: "hello" } },
};

describe("webhook event contract", () => {
  it("docs/webhook-events.schema.json is generated from the zod schemas (npm run schemas)", () => {
    // Compared as JSON: the formatter may lay the committed file out its own way.
    expect(JSON.parse(readFileSync(SCHEMA_FILE, "utf8"))).toEqual(JSON.parse(schemaText()));
  });

  it.each(Object.entries(samples))("the %s sample is a valid body", (_, sample) => {
    expect(webhookEvent.parse(sample)).toEqual(sample);
  });

  it("refuses a body of an unknown type or missing its message", () => {
    expect(webhookEvent.safeParse({ ...samples.test, type: "message.sending" }).success).toBe(false);
    expect(webhookEvent.safeParse({ type: "message.bounced", timestamp: "t", data: { id: "x" } }).success).toBe(false);
  });

  it.each(eventTypes.map((t) => [t]))("timeline type %s maps to its webhook type, or to none", (type) => {
    const expected = ["sending", "inbound", "resubscribed"].includes(type) ? null : `message.${type}`;
    expect(messageEventType(type)).toBe(expected);
    if (expected) expect(webhookEventTypes).toContain(expected);
  });

  it.each([
    ["bounced", "email", message.id],
    ["suppressed", "email", message.id],
    ["inbound", "sms", null],
    ["disabled", null, null],
    ["test", null, null],
  ])("%s: channel %s, message %s", (name, channel, messageId) => {
    expect(eventChannel(samples[name]!)).toBe(channel);
    expect(eventMessageId(samples[name]!)).toBe(messageId);
  });
});

describe("endpointWants", () => {
  const queued = { ...samples.bounced!, type: "message.queued" } as WebhookEvent;
  it.each([
    ["every type but opt-in ones by default", { eventTypes: null, channels: null }, samples.bounced, true],
    ["message.queued is opt-in", { eventTypes: null, channels: null }, queued, false],
    ["message.queued when named", { eventTypes: ["message.queued"], channels: null }, queued, true],
    ["a type not named", { eventTypes: ["message.delivered"], channels: null }, samples.bounced, false],
    ["a channel not named", { eventTypes: null, channels: ["sms"] }, samples.bounced, false],
    ["a channel named", { eventTypes: null, channels: ["email", "sms"] }, samples.suppressed, true],
    ["sms.inbound on an sms endpoint", { eventTypes: null, channels: ["sms"] }, samples.inbound, true],
    ["endpoint.disabled has no channel: passes a channel filter", { eventTypes: null, channels: ["sms"] }, samples.disabled, true],
    ["endpoint.disabled not named", { eventTypes: ["message.bounced"], channels: null }, samples.disabled, false],
    ["test goes whatever the filter", { eventTypes: ["message.bounced"], channels: ["sms"] }, samples.test, true],
  ] as const)("%s", (_, filter, event, wanted) => {
    expect(endpointWants(filter, event!)).toBe(wanted);
  });
});
