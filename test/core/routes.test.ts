import { describe, expect, it } from "vitest";
import type { SendOutcome } from "../../src/core/outcome.ts";
import {
  admit,
  CIRCUIT_COOL_DOWN_MS,
  CIRCUIT_PROBE_LEASE_MS,
  CIRCUIT_THRESHOLD,
  closedCircuit,
  observe,
  passesOn,
  routeHealthy,
  type Circuit,
} from "../../src/core/routes.ts";

const retry = (detail: SendOutcome["detail"]): SendOutcome => ({ kind: "retry", detail });

describe("passesOn: only what certainly did not reach the route goes to the next", () => {
  it.each<[string, SendOutcome, boolean]>([
    ["503, not submitted", retry({ status: 503, submitted: "no" }), true],
    ["502, not submitted", retry({ status: 502, submitted: "no" }), true],
    ["route down (no bind, no bridge)", retry({ reason: "route_down", submitted: "no" }), true],
    ["credentials refused", retry({ reason: "route_auth", status: 401, submitted: "no" }), true],
    ["a base URL outside the rules", retry({ reason: "route_misconfigured", submitted: "no" }), true],
    ["circuit open", retry({ reason: "circuit_open", submitted: "no" }), true],
    ["500: maybe taken", retry({ reason: "provider_error", status: 500, submitted: "maybe" }), false],
    ["connection lost: maybe taken", retry({ reason: "network_error", submitted: "maybe" }), false],
    ["timeout: maybe taken", retry({ reason: "timeout", submitted: "maybe" }), false],
    ["503 without saying whether it was taken", retry({ status: 503 }), false],
    ["429 throttled stays on its route", retry({ reason: "throttled", status: 429, submitted: "no" }), false],
    ["accepted", { kind: "accepted", detail: { status: 202 } }, false],
    ["failed", { kind: "failed", detail: { reason: "rejected", status: 400 } }, false],
  ])("%s → %s", (_, outcome, expected) => {
    expect(passesOn(outcome)).toBe(expected);
  });
});

describe("routeHealthy: what an outcome says about the route", () => {
  it.each<[string, SendOutcome, boolean | null]>([
    ["accepted", { kind: "accepted", detail: {} }, true],
    ["a refusal of this message shows the route working", { kind: "failed", detail: { status: 422 } }, true],
    ["throttled shows it working", retry({ status: 429, reason: "throttled", submitted: "no" }), true],
    ["a deferral by the recipient's MTA", retry({ reason: "smtp_4xx", submitted: "no" }), true],
    ["5xx", retry({ status: 500, submitted: "maybe" }), false],
    ["503", retry({ status: 503, submitted: "no" }), false],
    ["credentials refused", retry({ reason: "route_auth", submitted: "no" }), false],
    ["timeout", retry({ reason: "timeout", submitted: "maybe" }), false],
    ["bridge unreachable", retry({ reason: "bridge_unreachable", submitted: "maybe" }), false],
    ["an open circuit says nothing", retry({ reason: "circuit_open", submitted: "no" }), null],
  ])("%s → %s", (_, outcome, expected) => {
    expect(routeHealthy(outcome)).toBe(expected);
  });
});

describe("circuits", () => {
  const fail = (c: Circuit, times: number, at = 1_000) => {
    let next = c;
    for (let i = 0; i < times; i++) next = observe(next, false, at);
    return next;
  };

  it(`opens after ${CIRCUIT_THRESHOLD} failures in a row, and a success in between resets the count`, () => {
    expect(fail(closedCircuit, CIRCUIT_THRESHOLD - 1).state).toBe("closed");
    expect(fail(observe(fail(closedCircuit, CIRCUIT_THRESHOLD - 1), true, 1), CIRCUIT_THRESHOLD - 1).state).toBe("closed");
    const open = fail(closedCircuit, CIRCUIT_THRESHOLD, 5_000);
    expect(open).toMatchObject({ state: "open", openedAt: 5_000 });
  });

  it("admits nothing while open, then lends one probe after the cool-down; a lost probe expires", () => {
    const open = fail(closedCircuit, CIRCUIT_THRESHOLD, 0);
    expect(admit(open, CIRCUIT_COOL_DOWN_MS - 1).admitted).toBe(false);
    const probe = admit(open, CIRCUIT_COOL_DOWN_MS);
    expect(probe).toMatchObject({ admitted: true, next: { state: "half_open" } });
    // Others asking while the probe is out are refused; once its lease ends, the next asker probes.
    expect(admit(probe.next, CIRCUIT_COOL_DOWN_MS + 1).admitted).toBe(false);
    expect(admit(probe.next, CIRCUIT_COOL_DOWN_MS + CIRCUIT_PROBE_LEASE_MS).admitted).toBe(true);
  });

  it("a good probe closes the circuit; a failed one reopens it at once", () => {
    const half = admit(fail(closedCircuit, CIRCUIT_THRESHOLD, 0), CIRCUIT_COOL_DOWN_MS).next;
    expect(observe(half, true, CIRCUIT_COOL_DOWN_MS + 5)).toEqual(closedCircuit);
    const reopened = observe(half, false, CIRCUIT_COOL_DOWN_MS + 5);
    expect(reopened).toMatchObject({ state: "open", openedAt: CIRCUIT_COOL_DOWN_MS + 5 });
    expect(admit(reopened, CIRCUIT_COOL_DOWN_MS + 6).admitted).toBe(false);
  });

  it("a closed circuit admits without changing", () => {
    const { admitted, next } = admit(closedCircuit, 123);
    expect(admitted).toBe(true);
    expect(next).toBe(closedCircuit);
  });
});
