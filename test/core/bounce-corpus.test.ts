// The parser and classifier over the corpus of 160 real bounces and complaints from 60+ MTAs
// (test/fixtures/bounces, from Sisimai's public set-of-emails), against the labels Sisimai's
// regression tests expect.
// The labels are Sisimai's opinion, not ground truth: the bar is agreement, and the few
// messages where we differ are listed with the reason we give and why.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parseFeedbackMessage } from "../../src/core/bounce/parse.ts";
import type { FeedbackReport, RecipientReport } from "../../src/core/bounce/types.ts";

type Label = { file: string; mta: string; reason: string; status: string; hard: boolean | null; recipient: string; is_feedback: boolean };

// The corpus lives in the repository; BOUNCE_CORPUS points elsewhere (same layout). A missing
// corpus fails the run rather than skipping it.
const dir = process.env.BOUNCE_CORPUS ?? fileURLToPath(new URL("../fixtures/bounces", import.meta.url));
if (!existsSync(join(dir, "labels.jsonl"))) {
  throw new Error(`the bounce corpus is missing at ${dir} (expected emails/ and labels.jsonl)`);
}
const labels: Label[] = readFileSync(join(dir, "labels.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));

/**
 * Where we knowingly disagree with the label, the reason we give instead. Keyed by file only
 * in this test: the classifier itself knows nothing of files.
 */
const debatable: Record<string, { reason: string; why: string }> = {
  // Same "Error: Invalid user address ... 550 - no such user here" text as the Apache James
  // sample, which Sisimai labels filtered; Sisimai's Verizon module trusts its sender address.
  // Without an SMTP command the words alone read as a filter's refusal.
  "emails/0269.eml": { reason: "filtered", why: "Verizon: no command, Sisimai special-cases the vtext.com sender" },
};

function entryFor(report: FeedbackReport, label: Label): RecipientReport | undefined {
  const want = label.recipient.toLowerCase();
  return report.recipients.find((r) => r.recipient.toLowerCase() === want) ?? report.recipients[0];
}

describe("bounce corpus (Sisimai labels)", () => {
  const reports = new Map<string, FeedbackReport>();
  beforeAll(async () => {
    for (const label of labels) reports.set(label.file, await parseFeedbackMessage(readFileSync(join(dir, label.file))));
  });

  it("agrees on hard/soft for ≥ 97% and on the reason for ≥ 90% of the labelled messages", () => {
    let hardTotal = 0;
    let hardAgree = 0;
    let reasonAgree = 0;
    for (const label of labels) {
      const entry = entryFor(reports.get(label.file)!, label);
      if (entry?.reason === label.reason) reasonAgree++;
      if (label.hard === null) continue;
      hardTotal++;
      if (entry && (entry.class === "hard") === label.hard) hardAgree++;
    }
    expect(labels.length).toBe(160);
    expect(hardAgree / hardTotal).toBeGreaterThanOrEqual(0.97);
    expect(reasonAgree / labels.length).toBeGreaterThanOrEqual(0.9);
  });

  // One row per message, grouped by MTA family in the title: the exact reason and class.
  it.each(labels.map((l) => [l.mta, l.file, l] as const))("%s %s", (_mta, file, label) => {
    const report = reports.get(file)!;
    const entry = entryFor(report, label);
    const expected = debatable[file]?.reason ?? label.reason;
    expect(entry?.reason).toBe(expected);
    if (label.hard !== null && !debatable[file]) expect(entry?.class === "hard").toBe(label.hard);
    if (label.is_feedback) expect(report.kind).toBe("arf");
    else if (label.reason === "vacation") expect(report.kind).toBe("autoreply");
    else expect(report.kind).toBe("dsn");
  });

  it("recognises every ARF report, with its feedback type", () => {
    const types = Object.fromEntries(labels.filter((l) => l.is_feedback).map((l) => [l.file, reports.get(l.file)!.feedback?.feedbackType]));
    expect(types).toEqual({
      "emails/0003.eml": "abuse", // Yahoo! via Amazon SES, RFC 5965
      "emails/0005.eml": "abuse", // Return Path FBL, several Original-Rcpt-To
      "emails/0008.eml": "auth-failure", // NetEase DMARC failure report: recorded, not suppressing
      "emails/0010.eml": "abuse", // Microsoft JMRP (no report part)
      "emails/0013.eml": "opt-out", // Apple Mail one-click unsubscribe
      "emails/0023.eml": "abuse", // Amazon SES JSON complaint delivered by SNS email
    });
  });

  it("a success DSN is not a bounce; auto-replies name the replying mailbox", () => {
    const delivered = reports.get("emails/0024.eml")!;
    expect(delivered.kind).toBe("dsn");
    expect(delivered.recipients.map((r) => [r.action, r.class])).toEqual([["delivered", "undetermined"]]);
    for (const file of ["emails/0322.eml", "emails/0324.eml"]) {
      const report = reports.get(file)!;
      expect(report.kind).toBe("autoreply");
      expect(report.recipients.every((r) => r.class === "undetermined" && r.reason === "vacation")).toBe(true);
    }
  });
});
