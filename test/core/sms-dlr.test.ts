import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { dlrStats, type DlrStat } from "../../src/core/bridge.ts";
import {
  aggregateReceipts,
  canonicalSmscId,
  messageStates,
  parseReceiptText,
  receiptDate,
  receiptOutcome,
  type Receipt,
} from "../../src/core/sms/dlr.ts";

describe("parseReceiptText", () => {
  // Real receipts as SMSCs, gateways and libraries' own tests carry them (sources in the titles).
  it.each<[string, string, Receipt]>([
    [
      "SMPP 3.4 Appendix B shape (cloudhopper ch-smpp test)",
      "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes",
      {
        id: "0123456789",
        sub: "002",
        dlvrd: "001",
        submitDate: "1005232039",
        doneDate: "1005242339",
        stat: "DELIVRD",
        err: "012",
        text: "This is a sample mes",
      },
    ],
    [
      "capital Text: from an SMSC simulator (cloudhopper)",
      "id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 stat:DELIVRD err:000 Text:Hello",
      { id: "4", sub: "001", dlvrd: "001", submitDate: "1006020051", doneDate: "1006020051", stat: "DELIVRD", err: "000", text: "Hello" },
    ],
    [
      "real deliver_sm, text of punctuation (cloudhopper parseRealWorldReceipt0)",
      "id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 stat:DELIVRD err:000 text:@$#!%&/:",
      {
        id: "0059113978",
        sub: "001",
        dlvrd: "001",
        submitDate: "1002101730",
        doneDate: "1002101731",
        stat: "DELIVRD",
        err: "000",
        text: "@$#!%&/:",
      },
    ],
    [
      "UUID id and dates with seconds (cloudhopper)",
      "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 submit date:110206193041 done date:110206193110 stat:DELIVRD err:000 text:",
      {
        id: "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
        sub: "001",
        dlvrd: "001",
        submitDate: "110206193041",
        doneDate: "110206193110",
        stat: "DELIVRD",
        err: "000",
      },
    ],
    [
      "fields out of order, empty text before stat (cloudhopper)",
      "sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001 done date:110206193110 submit date:110206193041 text: stat:DELIVRD",
      {
        id: "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
        sub: "001",
        dlvrd: "001",
        submitDate: "110206193041",
        doneDate: "110206193110",
        stat: "DELIVRD",
        err: "000",
      },
    ],
    [
      "no sub/dlvrd, 14-digit dates, no text (cloudhopper)",
      "id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 done date:20110314181741 stat:DELIVRD err:0",
      { id: "2E179B310EDE971B2760C72B7F026E1B", submitDate: "20110314181534", doneDate: "20110314181741", stat: "DELIVRD", err: "0" },
    ],
    [
      "hex id, ACCEPTD, short dlvrd/err (bulatnig smpp test)",
      "id:c449ab9744f47b6af1879e49e75e4f40 sub:001 dlvrd:0 submit date:0610191018 done date:0610191018 stat:ACCEPTD err:0 text:This is an Acti",
      {
        id: "c449ab9744f47b6af1879e49e75e4f40",
        sub: "001",
        dlvrd: "0",
        submitDate: "0610191018",
        doneDate: "0610191018",
        stat: "ACCEPTD",
        err: "0",
        text: "This is an Acti",
      },
    ],
    [
      "REJECTD (bulatnig smpp test)",
      "id:b756c4f97aa2e1e67377dffc5e2f7d9b sub:001 dlvrd:0 submit date:0610191211 done date:0610191211 stat:REJECTD err:1 text:This is an Acti",
      {
        id: "b756c4f97aa2e1e67377dffc5e2f7d9b",
        sub: "001",
        dlvrd: "0",
        submitDate: "0610191211",
        doneDate: "0610191211",
        stat: "REJECTD",
        err: "1",
        text: "This is an Acti",
      },
    ],
    [
      "UNDELIV from a Kannel HLR route, operator fields after err (VipNet)",
      "id:40072910491419819 sub:001 dlvrd:001 submit date:1007291049 done date:1007291049 stat:UNDELIV err:001 IMSI: MSC: ORN:VipNet MCCMNC:",
      { id: "40072910491419819", sub: "001", dlvrd: "001", submitDate: "1007291049", doneDate: "1007291049", stat: "UNDELIV", err: "001" },
    ],
    [
      "DELIVRD with IMSI/MSC/HLR fields (VipNet)",
      "id:40072910491419819 sub:001 dlvrd:001 submit date:1007291049 done date:1007291049 stat:DELIVRD err:000 IMSI:219101100935850 MSC:38591016 HLR:38591xxxxxxx ORN:VipNet PON:VipNet RON:VipNet ROC:HR MCCMNC:21910",
      { id: "40072910491419819", sub: "001", dlvrd: "001", submitDate: "1007291049", doneDate: "1007291049", stat: "DELIVRD", err: "000" },
    ],
    [
      "trailing NUL of a C-string short_message (python-smpp test)",
      "id:1891273321 sub:001 dlvrd:001 submit date:1305050826 done date:1305050826 stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00",
      {
        id: "1891273321",
        sub: "001",
        dlvrd: "001",
        submitDate: "1305050826",
        doneDate: "1305050826",
        stat: "DELIVRD",
        err: "000",
        text: "DLVRD TO MOBILE",
      },
    ],
    [
      "hex id, err:0, 12-digit dates (Java SMPP client test)",
      "id:261BD3E2 sub:001 dlvrd:001 submit date:190305131326 done date:190305131326 stat:DELIVRD err:0 Text:report",
      {
        id: "261BD3E2",
        sub: "001",
        dlvrd: "001",
        submitDate: "190305131326",
        doneDate: "190305131326",
        stat: "DELIVRD",
        err: "0",
        text: "report",
      },
    ],
    [
      "upper-case keys, doubled spaces, space after colons",
      "ID: 77  SUB:001  DLVRD:000  SUBMIT DATE: 2611220830  DONE  DATE:2611220845 STAT:expired ERR:  003  TEXT:  hi",
      { id: "77", sub: "001", dlvrd: "000", submitDate: "2611220830", doneDate: "2611220845", stat: "EXPIRED", err: "003", text: "hi" },
    ],
    ["only id and stat", "id:abc stat:ENROUTE", { id: "abc", stat: "ENROUTE" }],
    [
      "a text quoting a receipt does not override the real fields",
      "id:9 sub:001 dlvrd:000 submit date:2611220830 done date:2611220831 stat:UNDELIV err:001 text:id:1 stat:DELIVRD",
      {
        id: "9",
        sub: "001",
        dlvrd: "000",
        submitDate: "2611220830",
        doneDate: "2611220831",
        stat: "UNDELIV",
        err: "001",
        text: "id:1 stat:DELIVRD",
      },
    ],
  ])("%s", (_, text, receipt) => {
    expect(parseReceiptText(text)).toEqual(receipt);
  });

  it.each([
    [
      "empty id (a Kannel test's receipt)",
      "id: sub:001 dlvrd:000 submit date:2401010000 done date:2401010001 stat:UNDELIV err:001 text:failed",
    ],
    ["no id at all", "sub:001 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:x"],
    [
      "misspelled id key (cloudhopper)",
      "i:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 stat:DELIVRD err:012 text:x",
    ],
    [
      "misspelled stat key (cloudhopper)",
      "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 done date:1005242339 sat:DELIVRD err:012 text:x",
    ],
    [
      "stat outside Appendix B (a placeholder)",
      "id:0123456789 sub:000 dlvrd:000 submit date:0000000000 done date:0000000000 stat:BADSTAT err:000 text:",
    ],
    ["long message_state name instead of the stat word", "id:1 stat:DELIVERED"],
    ["stat only inside text", "id:1 text:stat:DELIVRD"],
    ["stat quoted by a text that comes before the real one", "id:1 text:stat:DELIVRD stat:UNDELIV"],
    ["a mobile-originated message, not a receipt", "Hi, see you at 5"],
    ["empty", ""],
  ])("null for %s", (_, text) => {
    expect(parseReceiptText(text)).toBeNull();
  });
});

describe("receiptDate", () => {
  it.each([
    ["2611220830", "2026-11-22T08:30:00.000Z"],
    ["261122083015", "2026-11-22T08:30:15.000Z"],
    ["20261122083015", "2026-11-22T08:30:15.000Z"],
    ["1005232039", "2010-05-23T20:39:00.000Z"],
    ["110206193041", "2011-02-06T19:30:41.000Z"],
    ["2402292359", "2024-02-29T23:59:00.000Z"],
    [" 2611220830 ", "2026-11-22T08:30:00.000Z"],
  ])("%j → %s", (value, iso) => {
    expect(receiptDate(value)).toBe(iso);
  });

  it.each([
    ["0000000000", "month 0"],
    ["2613010000", "month 13"],
    ["2604310000", "31 April"],
    ["2302291200", "29 February 2023"],
    ["2611222400", "hour 24"],
    ["2611220860", "minute 60"],
    ["261122083060", "second 60"],
    ["261122083", "9 digits"],
    ["26112208301", "11 digits"],
    ["2023010112000000", "16 digits"],
    ["26-11-22 08:30", "separators"],
    ["", "empty"],
  ])("%j is malformed (%s)", (value) => {
    expect(receiptDate(value)).toBeUndefined();
  });
});

describe("messageStates", () => {
  it("maps the message_state TLV to the stat words", () => {
    expect(messageStates).toEqual({
      1: "ENROUTE",
      2: "DELIVRD",
      3: "EXPIRED",
      4: "DELETED",
      5: "UNDELIV",
      6: "ACCEPTD",
      7: "UNKNOWN",
      8: "REJECTD",
    });
    expect(messageStates[0]).toBeUndefined();
    expect(messageStates[9]).toBeUndefined();
  });

  it("agrees with the smpp package's message_state constants", () => {
    const smpp = createRequire(import.meta.url)("smpp/lib/defs.js") as { consts: { MESSAGE_STATE: Record<string, number> } };
    const byName: Record<string, DlrStat> = {
      ENROUTE: "ENROUTE",
      DELIVERED: "DELIVRD",
      EXPIRED: "EXPIRED",
      DELETED: "DELETED",
      UNDELIVERABLE: "UNDELIV",
      ACCEPTED: "ACCEPTD",
      UNKNOWN: "UNKNOWN",
      REJECTED: "REJECTD",
    };
    for (const [name, stat] of Object.entries(byName)) expect(messageStates[smpp.consts.MESSAGE_STATE[name]]).toBe(stat);
  });
});

describe("canonicalSmscId", () => {
  it.each<[string, 10 | 16, string]>([
    ["1A2B", 16, "6699"],
    ["6699", 10, "6699"],
    ["1a2b", 16, "6699"],
    ["00001A2B", 16, "6699"],
    ["0006699", 10, "6699"],
    [" 6699 ", 10, "6699"],
    ["16fee0e525", 16, "98765432101"],
    ["98765432101", 10, "98765432101"],
    // Larger than 2^53: BigInt keeps every digit.
    ["2E179B310EDE971B2760C72B7F026E1B", 16, "61267058294122845644591348796459478555"],
    ["0", 16, "0"],
    ["000", 10, "0"],
    // Not a number in that base: trimmed and lower-cased, compared as text.
    ["1A2B", 10, "1a2b"],
    ["74E02EE1-4E2F-4A6E-A78B-4B247D756A22", 16, "74e02ee1-4e2f-4a6e-a78b-4b247d756a22"],
    ["0x1A", 16, "0x1a"],
    ["-12", 10, "-12"],
    ["", 10, ""],
  ])("%j in base %i → %j", (id, base, canonical) => {
    expect(canonicalSmscId(id, base)).toBe(canonical);
  });

  it("a real deliver_sm's hex receipted_message_id meets its decimal receipt id (cloudhopper)", () => {
    // Same PDU: short_message "id:0059113978 …", receipted_message_id TLV "38601fa".
    expect(canonicalSmscId("38601fa", 16)).toBe(canonicalSmscId("0059113978", 10));
  });
});

describe("receiptOutcome", () => {
  it.each<[DlrStat, string | null]>([
    ["DELIVRD", "delivered"],
    ["UNDELIV", "bounced"],
    ["REJECTD", "failed"],
    ["DELETED", "failed"],
    ["EXPIRED", "expired"],
    ["ENROUTE", null],
    ["ACCEPTD", null],
    ["UNKNOWN", null],
  ])("%s → %s", (stat, outcome) => {
    expect(receiptOutcome(stat)).toBe(outcome);
  });

  it("covers every stat word", () => {
    expect(dlrStats.map((s) => receiptOutcome(s) !== undefined)).not.toContain(false);
  });
});

describe("aggregateReceipts", () => {
  it.each<[string, number, Array<DlrStat | undefined>, string | null]>([
    ["single part delivered", 1, ["DELIVRD"], "delivered"],
    ["single part no receipt yet", 1, [], null],
    ["all three delivered", 3, ["DELIVRD", "DELIVRD", "DELIVRD"], "delivered"],
    ["two of three delivered, one pending", 3, ["DELIVRD", undefined, "DELIVRD"], null],
    ["two of three delivered, one en route", 3, ["DELIVRD", "ENROUTE", "DELIVRD"], null],
    ["fewer receipts than parts", 3, ["DELIVRD", "DELIVRD"], null],
    ["one part undeliverable decides at once", 3, ["UNDELIV", undefined, undefined], "bounced"],
    ["one part rejected", 2, ["DELIVRD", "REJECTD"], "failed"],
    ["one part deleted", 2, ["DELETED", "ACCEPTD"], "failed"],
    ["one part expired", 2, ["EXPIRED", "DELIVRD"], "expired"],
    ["bounced outranks failed and expired", 3, ["EXPIRED", "REJECTD", "UNDELIV"], "bounced"],
    ["failed outranks expired", 3, ["EXPIRED", "DELIVRD", "REJECTD"], "failed"],
    ["accepted and unknown are not final", 2, ["ACCEPTD", "UNKNOWN"], null],
    ["receipts beyond the part count are ignored", 1, ["DELIVRD", "UNDELIV"], "delivered"],
  ])("%s", (_, total, stats, outcome) => {
    expect(aggregateReceipts(total, stats)).toBe(outcome);
  });

  it.each([0, -1, 1.5])("total %s is a RangeError", (total) => {
    expect(() => aggregateReceipts(total, [])).toThrow(RangeError);
  });
});
