// Prints the figures beside their baselines and writes bench/REPORT.md.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

export type Figure = {
  name: string;
  unit: string;
  value: number;
  baselines: Array<{ name: string; value: number }>;
  settings: string;
};

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "n/a");
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(3)}` : "n/a");

export function environment(): string {
  return `node ${process.version}, nproc ${execFileSync("nproc").toString().trim()}, ${new Date().toISOString()}`;
}

function rows(figures: Figure[]): string[][] {
  return figures.flatMap((f) =>
    f.baselines.map((b) => [f.name, `${fmt(f.value)} ${f.unit}`, b.name, `${fmt(b.value)} ${f.unit}`, ratio(f.value, b.value), f.settings]),
  );
}

const HEAD = ["figure", "lasthop", "baseline", "baseline value", "ratio (lasthop/baseline)", "settings"];

/** The table as plain text for the terminal. */
export function printTable(figures: Figure[]): void {
  const all = [HEAD, ...rows(figures)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  for (const [i, r] of all.entries()) {
    console.log(r.map((cell, j) => cell.padEnd(widths[j]!)).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

export function writeReport(path: string, figures: Figure[], method: string[], observations: string[]): void {
  const table = [HEAD, HEAD.map(() => "---"), ...rows(figures)].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const text = [
    "# lasthop benchmarks",
    "",
    `Run: ${environment()}. Written by \`npm run bench\` (bench/run.ts); absolute numbers are context only,`,
    "compare the ratios (see /work/shared/BENCHMARKS.md for why each baseline is the fair one).",
    "",
    table,
    "",
    "## Method",
    "",
    ...method.map((m) => `- ${m}`),
    "",
    "## Observations (answers, arrivals, latency)",
    "",
    ...observations.map((o) => `- ${o}`),
    "",
  ].join("\n");
  writeFileSync(path, text);
}
