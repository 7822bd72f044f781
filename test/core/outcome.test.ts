import { describe, expect, it } from "vitest";
import { batchResults, itemResultOf } from "../../src/core/bridge.ts";
import { sendOutcome } from "../../src/core/outcome.ts";
import { pinnedRoute } from "../../src/core/routes.ts";

const id = "6e2a3f0c-0000-4000-8000-000000000000";

describe("the outcome contract (one zod source for the edge and the bridge)", () => {
  it("keeps free-form detail fields and checks the ones code reads back", () => {
    const accepted = { kind: "accepted", detail: { route: "smsc", smscIds: ["1", "2"], segments: 2, encoding: "gsm7" } };
    expect(sendOutcome.parse(accepted)).toEqual(accepted);
    expect(sendOutcome.safeParse({ kind: "retry", detail: { reason: "route_down", submitted: "yes" } }).success).toBe(false);
    expect(sendOutcome.safeParse({ kind: "accepted", detail: { smscIds: [17] } }).success).toBe(false);
    expect(sendOutcome.safeParse({ kind: "delivered", detail: {} }).success).toBe(false);
  });

  it("takes retryAfter on a retry only, and an item result needs its id", () => {
    expect(sendOutcome.safeParse({ kind: "retry", retryAfter: 30, detail: {} }).success).toBe(true);
    expect(sendOutcome.safeParse({ kind: "failed", retryAfter: 30, detail: {} }).success).toBe(false);
    expect(batchResults.safeParse({ results: [{ kind: "accepted", detail: {} }] }).success).toBe(false);
    expect(batchResults.safeParse({ results: [{ id, kind: "accepted", detail: {} }] }).success).toBe(true);
  });

  it("itemResultOf writes retryAfter only where the next hop gave one", () => {
    expect(itemResultOf(id, { kind: "retry", retryAfter: undefined, detail: { reason: "server_error" } })).toStrictEqual({
      id,
      kind: "retry",
      detail: { reason: "server_error" },
    });
    expect(itemResultOf(id, { kind: "retry", retryAfter: 5, detail: {} })).toStrictEqual({ id, kind: "retry", retryAfter: 5, detail: {} });
    expect(itemResultOf(id, { kind: "accepted", detail: { providerMessageId: "x" } })).toStrictEqual({
      id,
      kind: "accepted",
      detail: { providerMessageId: "x" },
    });
  });
});

describe("pinnedRoute (a message is never submitted on two routes)", () => {
  it("pins the route that took the message or may have", () => {
    expect(pinnedRoute("accepted", { route: "smsc" })).toBe("smsc");
    expect(pinnedRoute("deferred", { route: "smsc", submitted: "maybe" })).toBe("smsc");
    expect(pinnedRoute("deferred", { route: "smsc", submitted: "no" })).toBeNull();
    expect(pinnedRoute("accepted", {})).toBeNull();
  });
});
