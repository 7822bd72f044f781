import { describe, expect, it } from "vitest";
import type { Channel, EventType } from "../../src/core/model.ts";
import { recipientEffect, softBounceLimitReached, type RecipientEffect } from "../../src/core/suppression.ts";

const suppress = (reason: string) => ({ kind: "suppress", reason });
const SOFT = { kind: "soft_bounce" };
const DELIVERED = { kind: "delivered" };

type Row = [Channel, EventType, Record<string, unknown>, RecipientEffect | null | { kind: string; reason?: string }];

describe("recipientEffect", () => {
  it.each<Row>([
    // hard bounces
    ["email", "bounced", { class: "hard", reason: "mailbox_unknown", smtpCode: 550 }, suppress("hard_bounce")],
    ["sms", "bounced", { class: "hard", reason: "unknown_subscriber" }, suppress("hard_bounce")],
    ["apns", "bounced", { class: "hard", reason: "BadDeviceToken" }, suppress("token_invalid")],
    ["fcm", "bounced", { class: "hard", reason: "UNREGISTERED" }, suppress("token_invalid")],
    ["webpush", "bounced", { class: "hard", reason: "token_invalid" }, suppress("token_invalid")],
    // soft and undetermined bounces only count
    ["email", "bounced", { class: "soft", reason: "mailbox_full" }, SOFT],
    ["email", "bounced", { class: "undetermined", reason: "unknown" }, null],
    ["email", "bounced", { class: "soft", reason: "onhold" }, null],
    ["email", "bounced", { class: "soft", reason: "undefined" }, null],
    ["apns", "bounced", { class: "soft", reason: "x" }, SOFT],
    ["webpush", "bounced", { class: "undetermined", reason: "x" }, null],
    ["sms", "bounced", { class: "soft", reason: "absent_subscriber" }, SOFT],
    ["email", "bounced", {}, SOFT],
    // complaints: abuse (or unspecified) suppresses; RFC 5965 fraud/virus/other do not
    ["email", "complained", {}, suppress("complaint")],
    ["email", "complained", { feedbackType: "abuse" }, suppress("complaint")],
    ["email", "complained", { feedbackType: "fraud" }, null],
    ["email", "complained", { feedbackType: "virus" }, null],
    ["email", "complained", { feedbackType: "other" }, null],
    // unsubscribes
    ["email", "unsubscribed", {}, suppress("unsubscribe")],
    ["webpush", "unsubscribed", {}, suppress("unsubscribe")],
    // inbound: only STOP suppresses
    ["sms", "inbound", { keyword: "stop", text: "STOP" }, suppress("sms_stop")],
    ["sms", "inbound", { keyword: "help" }, null],
    ["sms", "inbound", { text: "thanks!" }, null],
    ["email", "inbound", { text: "a reply" }, null],
    // delivery resets the soft-bounce count
    ["email", "delivered", {}, DELIVERED],
    ["apns", "delivered", {}, DELIVERED],
    ["sms", "delivered", {}, DELIVERED],
    // everything else leaves the recipient alone
    ["email", "accepted", {}, null],
    ["email", "opened", {}, null],
    ["email", "clicked", { url: "https://example.com" }, null],
    ["fcm", "accepted", {}, null],
    ["email", "queued", {}, null],
    ["email", "sending", {}, null],
    ["email", "deferred", { reason: "greylisted" }, null],
    ["email", "failed", { reason: "rejected" }, null],
    ["email", "expired", {}, null],
    ["email", "suppressed", {}, null],
  ])("%s %s %j → %j", (channel, type, detail, expected) => {
    expect(recipientEffect(channel, { type, detail })).toEqual(expected);
  });
});

describe("softBounceLimitReached", () => {
  it.each([
    [2, 3, false],
    [3, 3, true],
    [4, 3, true],
    [0, 1, false],
    [1, 1, true],
    [5, 0, false], // 0 disables the limit
    [100, 0, false],
  ])("count %i, limit %i → %s", (count, limit, expected) => {
    expect(softBounceLimitReached(count, limit)).toBe(expected);
  });
});
