/**
 * Agreement of the bounce parser and classifier with a labelled corpus (Sisimai's expected
 * labels): `node test/tools/eval-bounces.ts [DIR]`, DIR holding `emails/` and `labels.jsonl`
 * (default: test/fixtures/bounces, the corpus in the repository). Prints hard/soft and reason
 * agreement, complaint and auto-reply handling, the misses, and messages parsed per second.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFeedbackMessage } from "../../src/core/bounce/parse.ts";
import type { FeedbackReport, RecipientReport } from "../../src/core/bounce/types.ts";

type Label = { file: string; mta: string; reason: string; status: string; hard: boolean | null; recipient: string; is_feedback: boolean };

const dir = process.argv[2] ?? fileURLToPath(new URL("../fixtures/bounces", import.meta.url));
const labels: Label[] = readFileSync(join(dir, "labels.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));
const files = labels.map((l) => readFileSync(join(dir, l.file)));

/** The entry the label is about: same recipient, else the first. */
function pick(report: FeedbackReport, label: Label): RecipientReport | undefined {
  const want = label.recipient.toLowerCase();
  return report.recipients.find((r) => r.recipient.toLowerCase() === want) ?? report.recipients[0];
}

const reports: FeedbackReport[] = [];
for (const bytes of files) reports.push(await parseFeedbackMessage(bytes));

let hardTotal = 0,
  hardAgree = 0,
  reasonAgree = 0,
  arfTotal = 0,
  arfOk = 0;
const misses: string[] = [];
const special: string[] = [];
labels.forEach((label, i) => {
  const report = reports[i]!;
  const entry = pick(report, label);
  const gotReason = entry?.reason ?? "(none)";
  const gotHard = entry ? entry.class === "hard" : undefined;
  const reasonOk = gotReason === label.reason;
  if (reasonOk) reasonAgree++;
  let hardOk = true;
  if (label.hard !== null) {
    hardTotal++;
    hardOk = gotHard === label.hard;
    if (hardOk) hardAgree++;
  }
  if (label.is_feedback) {
    arfTotal++;
    const ok = report.kind === "arf";
    if (ok) arfOk++;
    special.push(`  ${label.file}  arf: kind=${report.kind} feedbackType=${report.feedback?.feedbackType ?? "-"} ${ok ? "ok" : "MISSED"}`);
  }
  if (label.reason === "vacation" || label.reason === "delivered") {
    special.push(`  ${label.file}  ${label.reason}: kind=${report.kind} action=${entry?.action ?? "-"} reason=${gotReason}`);
  }
  if (!reasonOk || !hardOk) {
    misses.push(
      `  ${label.file}  ${label.mta.padEnd(40).slice(0, 40)}  expected ${label.reason}/${label.hard === null ? "-" : label.hard ? "hard" : "soft"}` +
        `  got ${gotReason}/${entry ? entry.class : "-"}${hardOk ? "" : "  [HARD/SOFT]"}  (kind ${report.kind}, ${entry?.enhancedCode ?? entry?.status ?? "no code"}${entry?.command ? `, ${entry.command}` : ""})`,
    );
  }
});

// Throughput: the whole corpus, repeated until at least a second has passed.
let parsed = 0;
const started = performance.now();
while (performance.now() - started < 1000) {
  for (const bytes of files) await parseFeedbackMessage(bytes);
  parsed += files.length;
}
const perSecond = parsed / ((performance.now() - started) / 1000);

const pct = (n: number, d: number) => `${((100 * n) / Math.max(d, 1)).toFixed(1)}% (${n}/${d})`;
console.log(`corpus: ${dir} (${labels.length} messages)`);
console.log(`hard/soft agreement: ${pct(hardAgree, hardTotal)}  [labels with hard != null]`);
console.log(`reason agreement:    ${pct(reasonAgree, labels.length)}`);
console.log(`ARF recognised:      ${arfOk}/${arfTotal}`);
console.log(`complaints, auto-replies, deliveries:\n${special.join("\n")}`);
console.log(`misses (${misses.length}):\n${misses.join("\n") || "  none"}`);
console.log(`throughput: ${Math.round(perSecond)} messages/s parsed and classified`);
