import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { classifySubmitStatus, commandStatusName, commandStatuses } from "../../src/core/sms/smpp-status.ts";

const smppErrors = (createRequire(import.meta.url)("smpp/lib/defs.js") as { errors: Record<string, number> }).errors;

describe("commandStatuses", () => {
  it("holds the 48 SMPP 3.4 §5.1.3 statuses with distinct codes", () => {
    expect(Object.keys(commandStatuses)).toHaveLength(48);
    expect(new Set(Object.values(commandStatuses)).size).toBe(48);
  });

  it.each([
    ["ESME_ROK", 0x00],
    ["ESME_RINVMSGLEN", 0x01],
    ["ESME_RINVBNDSTS", 0x04],
    ["ESME_RSYSERR", 0x08],
    ["ESME_RINVSRCADR", 0x0a],
    ["ESME_RINVDSTADR", 0x0b],
    ["ESME_RMSGQFUL", 0x14],
    ["ESME_RSUBMITFAIL", 0x45],
    ["ESME_RTHROTTLED", 0x58],
    ["ESME_RX_T_APPN", 0x64],
    ["ESME_RINVOPTPARSTREAM", 0xc0],
    ["ESME_RDELIVERYFAILURE", 0xfe],
    ["ESME_RUNKNOWNERR", 0xff],
  ])("%s is 0x%s", (name, code) => {
    expect(commandStatuses[name]).toBe(code);
  });

  // The smpp package names 0xC0–0xC4 as SMPP 5.0 does (ESME_RINVTLVSTREAM…); the codes agree.
  const v50Names: Record<string, string> = {
    ESME_RINVOPTPARSTREAM: "ESME_RINVTLVSTREAM",
    ESME_ROPTPARNOTALLWD: "ESME_RTLVNOTALLWD",
    ESME_RINVPARLEN: "ESME_RINVTLVLEN",
    ESME_RMISSINGOPTPARAM: "ESME_RMISSINGTLV",
    ESME_RINVOPTPARAMVAL: "ESME_RINVTLVVAL",
  };
  it.each(Object.entries(commandStatuses))("%s has the smpp package's code", (name, code) => {
    expect(smppErrors[v50Names[name] ?? name]).toBe(code);
  });
});

describe("commandStatusName", () => {
  it.each([
    [0x00, "ESME_ROK"],
    [0x58, "ESME_RTHROTTLED"],
    [0xc4, "ESME_RINVOPTPARAMVAL"],
    [0x09, "0x00000009"],
    [0x400, "0x00000400"],
    [0x0000040b, "0x0000040b"],
    [0xffffffff, "0xffffffff"],
    [-1, "0xffffffff"],
  ])("0x%s → %s", (code, name) => {
    expect(commandStatusName(code)).toBe(name);
  });
});

describe("classifySubmitStatus", () => {
  it.each([
    [0x00, { kind: "accepted" }],
    [0x58, { kind: "retry", name: "ESME_RTHROTTLED", throttle: true }],
    [0x14, { kind: "retry", name: "ESME_RMSGQFUL", throttle: true }],
    [0x08, { kind: "retry", name: "ESME_RSYSERR", throttle: false }],
    [0x45, { kind: "retry", name: "ESME_RSUBMITFAIL", throttle: false }],
    [0x64, { kind: "retry", name: "ESME_RX_T_APPN", throttle: false }],
    [0x04, { kind: "retry", name: "ESME_RINVBNDSTS", throttle: false }],
    [0xfe, { kind: "retry", name: "ESME_RDELIVERYFAILURE", throttle: false }],
    [0xff, { kind: "retry", name: "ESME_RUNKNOWNERR", throttle: false }],
    [0x400, { kind: "retry", name: "0x00000400", throttle: false }],
    [0x0b, { kind: "failed", name: "ESME_RINVDSTADR" }],
    [0x0a, { kind: "failed", name: "ESME_RINVSRCADR" }],
    [0x01, { kind: "failed", name: "ESME_RINVMSGLEN" }],
    [0x50, { kind: "failed", name: "ESME_RINVDSTTON" }],
    [0x51, { kind: "failed", name: "ESME_RINVDSTNPI" }],
    [0x65, { kind: "failed", name: "ESME_RX_P_APPN" }],
    [0x66, { kind: "failed", name: "ESME_RX_R_APPN" }],
    [0x62, { kind: "failed", name: "ESME_RINVEXPIRY" }],
    [0xc4, { kind: "failed", name: "ESME_RINVOPTPARAMVAL" }],
  ])("0x%s → %o", (code, verdict) => {
    expect(classifySubmitStatus(code)).toEqual(verdict);
  });

  it("every named status other than the retryable ones is permanent", () => {
    const retryable = new Set([
      "ESME_RTHROTTLED",
      "ESME_RMSGQFUL",
      "ESME_RSYSERR",
      "ESME_RSUBMITFAIL",
      "ESME_RX_T_APPN",
      "ESME_RINVBNDSTS",
      "ESME_RDELIVERYFAILURE",
      "ESME_RUNKNOWNERR",
    ]);
    for (const [name, code] of Object.entries(commandStatuses)) {
      const kind = classifySubmitStatus(code).kind;
      expect([name, kind]).toEqual([name, name === "ESME_ROK" ? "accepted" : retryable.has(name) ? "retry" : "failed"]);
    }
  });
});
