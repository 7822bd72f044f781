import { describe, expect, it } from "vitest";
import { deliveryStates, engagementTypes, type DeliveryState, type EventType } from "../../src/core/model.ts";
import { feedbackOutcome, isTerminal, nextState } from "../../src/core/state.ts";

describe("nextState", () => {
  it.each<[DeliveryState, EventType, DeliveryState]>([
    // moving up the ranks
    ["queued", "sending", "sending"],
    ["queued", "accepted", "accepted"],
    ["queued", "suppressed", "suppressed"],
    ["sending", "deferred", "deferred"],
    ["sending", "accepted", "accepted"],
    ["deferred", "accepted", "accepted"],
    ["accepted", "delivered", "delivered"],
    ["accepted", "bounced", "bounced"],
    ["accepted", "failed", "failed"],
    ["accepted", "expired", "expired"],
    ["deferred", "bounced", "bounced"],
    // never down, never sideways at the same rank
    ["sending", "queued", "sending"],
    ["sending", "sending", "sending"],
    ["deferred", "sending", "deferred"],
    ["deferred", "queued", "deferred"],
    ["accepted", "sending", "accepted"],
    ["accepted", "deferred", "accepted"],
    ["accepted", "queued", "accepted"],
  ])("%s + %s → %s", (current, event, expected) => {
    expect(nextState(current, event)).toBe(expected);
  });

  const terminals: DeliveryState[] = ["delivered", "bounced", "failed", "expired", "suppressed"];
  describe.each(terminals)("terminal %s", (terminal) => {
    it.each(deliveryStates)(`${terminal} + %s stays ${terminal}`, (event) => {
      expect(nextState(terminal, event)).toBe(terminal);
    });
  });

  it.each<[DeliveryState, EventType, DeliveryState]>([
    ["delivered", "accepted", "delivered"],
    ["bounced", "delivered", "bounced"],
    ["suppressed", "accepted", "suppressed"],
    ["failed", "delivered", "failed"],
    ["expired", "bounced", "expired"],
    ["delivered", "bounced", "delivered"],
  ])("named terminal case: %s + %s → %s", (current, event, expected) => {
    expect(nextState(current, event)).toBe(expected);
  });

  const nonDeliveryEvents: EventType[] = [...engagementTypes, "inbound"];
  describe.each(["queued", "sending", "deferred", "accepted", "delivered", "bounced"] as DeliveryState[])("from %s", (current) => {
    it.each(nonDeliveryEvents)(`%s leaves ${current} unchanged`, (event) => {
      expect(nextState(current, event)).toBe(current);
    });
  });

  it.each<[string, EventType[], DeliveryState]>([
    ["delivered before accepted", ["delivered", "accepted"], "delivered"],
    ["full happy path", ["sending", "deferred", "accepted", "delivered"], "delivered"],
    ["late sending after accepted", ["sending", "accepted", "sending", "deferred"], "accepted"],
    ["engagement after delivery", ["sending", "accepted", "delivered", "opened", "clicked", "complained"], "delivered"],
    ["retried then bounced, then a late delivered", ["sending", "deferred", "sending", "bounced", "delivered"], "bounced"],
    ["only engagement", ["opened", "inbound", "unsubscribed"], "queued"],
  ])("%s: queued + %j → %s", (_, events, expected) => {
    expect(events.reduce<DeliveryState>(nextState, "queued")).toBe(expected);
  });

  it("walks queued→sending→deferred→accepted→delivered one step at a time", () => {
    const steps: EventType[] = ["sending", "deferred", "accepted", "delivered"];
    const seen: DeliveryState[] = [];
    steps.reduce<DeliveryState>((state, event) => {
      const next = nextState(state, event);
      seen.push(next);
      return next;
    }, "queued");
    expect(seen).toEqual(["sending", "deferred", "accepted", "delivered"]);
  });
});

describe("isTerminal", () => {
  it.each<[DeliveryState, boolean]>([
    ["queued", false],
    ["sending", false],
    ["deferred", false],
    ["accepted", false],
    ["delivered", true],
    ["bounced", true],
    ["failed", true],
    ["expired", true],
    ["suppressed", true],
  ])("%s → %s", (state, expected) => {
    expect(isTerminal(state)).toBe(expected);
  });
});

describe("feedbackOutcome", () => {
  it.each([
    ["bounced", { class: "hard", reason: "userunknown" }, "bounce_hard"],
    ["bounced", { class: "soft", reason: "mailboxfull" }, "bounce_soft"],
    ["bounced", { class: "undetermined" }, "bounce_soft"],
    ["bounced", {}, "bounce_soft"],
    ["complained", { feedbackType: "abuse" }, "complained"],
    ["delivered", {}, null],
    ["opened", {}, null],
    ["deferred", { class: "soft" }, null],
  ] as Array<[EventType, Record<string, unknown>, string | null]>)("%s %j counts %s", (type, detail, expected) => {
    expect(feedbackOutcome(type, detail)).toBe(expected);
  });
});
