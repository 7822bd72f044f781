import { describe, expect, it } from "vitest";
import { decodeGsm7, decodeUcs2 } from "../../src/core/sms/gsm.ts";
import { planSms, referenceFor, segmentSms, smsPayload, type SmsPart } from "../../src/core/sms/segment.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const body = (part: SmsPart) => (part.total === 1 ? part.shortMessage : part.shortMessage.subarray(6));
const decode = (part: SmsPart) => (part.dataCoding === 0 ? decodeGsm7(body(part)) : decodeUcs2(body(part)));
/** Septets or UTF-16 code units a part carries (both one per octet pair or octet as encoded). */
const units = (part: SmsPart) => (part.dataCoding === 0 ? body(part).length : body(part).length / 2);

describe("planSms", () => {
  it.each([
    ["empty", "", { encoding: "gsm7", dataCoding: 0, units: 0, segments: 1 }],
    ["160 GSM characters fit one part", "a".repeat(160), { encoding: "gsm7", dataCoding: 0, units: 160, segments: 1 }],
    ["161 need two (153 + 8)", "a".repeat(161), { encoding: "gsm7", dataCoding: 0, units: 161, segments: 2 }],
    ["306 GSM is exactly two parts", "a".repeat(306), { encoding: "gsm7", dataCoding: 0, units: 306, segments: 2 }],
    ["307 GSM is three", "a".repeat(307), { encoding: "gsm7", dataCoding: 0, units: 307, segments: 3 }],
    ["80 euro signs are 160 septets", "€".repeat(80), { encoding: "gsm7", dataCoding: 0, units: 160, segments: 1 }],
    ["81 euro signs: pairs never split, 76 per part", "€".repeat(81), { encoding: "gsm7", dataCoding: 0, units: 162, segments: 2 }],
    ["70 UCS-2 units fit one part", "ж".repeat(70), { encoding: "ucs2", dataCoding: 8, units: 70, segments: 1 }],
    ["71 need two (67 + 4)", "ж".repeat(71), { encoding: "ucs2", dataCoding: 8, units: 71, segments: 2 }],
    ["one non-GSM character turns the whole body UCS-2", `${"a".repeat(69)}ç`, { encoding: "ucs2", dataCoding: 8, units: 70, segments: 1 }],
    ["35 emoji are 70 units", "😀".repeat(35), { encoding: "ucs2", dataCoding: 8, units: 70, segments: 1 }],
    ["36 emoji: 33 per part (66 units)", "😀".repeat(36), { encoding: "ucs2", dataCoding: 8, units: 72, segments: 2 }],
    ["1600 GSM characters: 11 parts", "a".repeat(1600), { encoding: "gsm7", dataCoding: 0, units: 1600, segments: 11 }],
    ["1600 UCS-2 units: 24 parts", "ж".repeat(1600), { encoding: "ucs2", dataCoding: 8, units: 1600, segments: 24 }],
  ])("%s", (_, text, plan) => {
    expect(planSms(text)).toEqual(plan);
    expect(segmentSms(text, 7)).toHaveLength(plan.segments);
  });
});

describe("segmentSms", () => {
  it("one part: no UDH, esm_class 0", () => {
    const [part, ...rest] = segmentSms("Hello €", 42);
    expect(rest).toEqual([]);
    expect(part).toMatchObject({ index: 1, total: 1, esmClass: 0, dataCoding: 0 });
    expect(hex(part.shortMessage)).toBe("48656c6c6f201b65");
  });

  it("a 3-part UCS-2 message carries 05 00 03 ref 03 seq and UDHI", () => {
    const text = "ж".repeat(67 * 2 + 1);
    const parts = segmentSms(text, 0xa7);
    expect(parts.map((p) => [p.index, p.total, p.esmClass, p.dataCoding])).toEqual([
      [1, 3, 0x40, 8],
      [2, 3, 0x40, 8],
      [3, 3, 0x40, 8],
    ]);
    expect(parts.map((p) => hex(p.shortMessage.subarray(0, 6)))).toEqual(["050003a70301", "050003a70302", "050003a70303"]);
    expect(parts.map((p) => p.shortMessage.length)).toEqual([6 + 134, 6 + 134, 6 + 2]);
    expect(hex(parts[2].shortMessage.subarray(6))).toBe("0436");
  });

  it("the euro sign at a boundary moves whole to the next part (that part holds 152)", () => {
    const text = `${"a".repeat(152)}€${"b".repeat(10)}`;
    const [first, second] = segmentSms(text, 1);
    expect(units(first)).toBe(152);
    expect(hex(second.shortMessage.subarray(6, 8))).toBe("1b65");
    expect(decode(first) + decode(second)).toBe(text);
  });

  it("an escape pair that ends exactly on 153 stays in place", () => {
    const text = `${"a".repeat(151)}€${"b".repeat(10)}`;
    const [first] = segmentSms(text, 1);
    expect(units(first)).toBe(153);
    expect(hex(first.shortMessage.subarray(-2))).toBe("1b65");
  });

  it("an emoji at a boundary moves whole to the next part (that part holds 66)", () => {
    const text = `${"ж".repeat(66)}😀${"ж".repeat(5)}`;
    const [first, second] = segmentSms(text, 1);
    expect(units(first)).toBe(66);
    expect(hex(second.shortMessage.subarray(6, 10))).toBe("d83dde00");
    expect(decode(first) + decode(second)).toBe(text);
  });

  it.each([-1, 256, 1.5, Number.NaN])("reference %s is a RangeError", (reference) => {
    expect(() => segmentSms("hi", reference)).toThrow(RangeError);
  });

  it("more than 255 parts cannot be numbered", () => {
    expect(() => segmentSms("a".repeat(153 * 256), 0)).toThrow(RangeError);
    expect(segmentSms("a".repeat(153 * 255), 0)).toHaveLength(255);
  });

  /** mulberry32: small, deterministic, good enough to spread characters. */
  function prng(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it("on 2000 random bodies: as many parts as planned, none over the limit, and the text survives", () => {
    const gsmPool = Array.from("abcXYZ 0189.,!?@£$é\nÅΔ€{}[]~\\|^\f");
    const widePool = [...gsmPool, "ж", "中", "😀", "👍🏽", "ç", "ú"];
    const random = prng(0x5eed);
    for (let n = 0; n < 2000; n++) {
      const pool = random() < 0.5 ? gsmPool : widePool;
      const length = Math.floor(random() * 420);
      let text = "";
      for (let i = 0; i < length; i++) text += pool[Math.floor(random() * pool.length)];
      const plan = planSms(text);
      const parts = segmentSms(text, n % 256);
      expect(parts).toHaveLength(plan.segments);
      expect(parts.map(decode).join("")).toBe(text);
      const limit = plan.segments === 1 ? (plan.encoding === "gsm7" ? 160 : 70) : plan.encoding === "gsm7" ? 153 : 67;
      for (const part of parts) {
        expect(units(part)).toBeLessThanOrEqual(limit);
        expect(part.dataCoding).toBe(plan.dataCoding);
        // A part never ends inside an escape pair or a surrogate pair.
        expect(part.dataCoding === 0 ? body(part).at(-1) !== 0x1b : !/[\ud800-\udbff]$/.test(decode(part))).toBe(true);
      }
    }
  });
});

describe("smsPayload", () => {
  it.each([
    ["GSM body, escape pairs included", `${"a".repeat(200)}€`, 0, `${"61".repeat(200)}1b65`],
    ["UCS-2 body", "ж😀", 8, "0436d83dde00"],
  ])("%s: whole message, no UDH", (_, text, dataCoding, payload) => {
    const { dataCoding: dc, messagePayload } = smsPayload(text);
    expect(dc).toBe(dataCoding);
    expect(hex(messagePayload)).toBe(payload);
  });
});

describe("referenceFor", () => {
  it("is stable for one id and spreads over the octet", () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `0198c9a2-7f3e-7c1a-9b4d-${i.toString(16).padStart(12, "0")}`);
    const refs = ids.map(referenceFor);
    expect(ids.map(referenceFor)).toEqual(refs);
    for (const ref of refs) expect(ref >= 0 && ref <= 255 && Number.isInteger(ref)).toBe(true);
    expect(new Set(refs).size).toBeGreaterThan(200);
  });
});
