// How the demo shows itself: a progress line (one redrawn line on a terminal, a plain line now
// and then otherwise) and the summary table, lasthop's view beside the simulators' and the
// receiver's, a mismatch marked on its row.
import { OUTCOMES, type Outcome, type Row } from "./demo-mix.ts";

export type Counts = Partial<Record<Outcome, number>>;

export type RowSummary = Row & {
  sent: number;
  lasthop: Counts;
  simulators: Counts;
  receiver: Counts;
  /** Every view counts every message of the row as the expected outcome. */
  ok: boolean;
};

export type Out = { write(text: string): unknown; isTTY?: boolean; columns?: number };

const BAR = 24;
/** Without a terminal, a line at most this often (and when the count moved). */
const PLAIN_EVERY_MS = 2_000;

export class Progress {
  readonly #out: Out;
  readonly #started = Date.now();
  #lastPlain = 0;
  #lastLine = "";
  #drawn = false;

  constructor(out: Out) {
    this.#out = out;
  }

  update(done: number, total: number, byOutcome: Counts, note = ""): void {
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1);
    const outcomes = OUTCOMES.filter((o) => byOutcome[o])
      .map((o) => `${o} ${byOutcome[o]}`)
      .join(" · ");
    const line = `${done}/${total} final  ${outcomes}${note ? `  ${note}` : ""}`;
    if (this.#out.isTTY) {
      const filled = total === 0 ? BAR : Math.round((done / total) * BAR);
      const text = `[${"█".repeat(filled)}${"░".repeat(BAR - filled)}] ${seconds}s  ${line}`;
      // One line narrower than the terminal: a line that wraps could not be redrawn with \r.
      const width = this.#out.columns ? this.#out.columns - 1 : text.length;
      this.#out.write(`\r\x1b[K${text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text}`);
      this.#drawn = true;
      return;
    }
    const now = Date.now();
    if (line === this.#lastLine || now - this.#lastPlain < PLAIN_EVERY_MS) return;
    this.#lastLine = line;
    this.#lastPlain = now;
    this.#out.write(`  ${seconds}s  ${line}\n`);
  }

  /** Ends the redrawn line, so what follows starts on its own. */
  done(): void {
    if (this.#drawn) this.#out.write("\n");
    this.#drawn = false;
  }
}

export function count(outcomes: readonly Outcome[]): Counts {
  const counts: Counts = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

export function sameCounts(a: Counts, b: Counts): boolean {
  return OUTCOMES.every((o) => (a[o] ?? 0) === (b[o] ?? 0));
}

/** `12 delivered`, and what else the view saw: `11 delivered, 1 pending`. */
function cell(counts: Counts, expected: Outcome): string {
  const first = `${counts[expected] ?? 0} ${expected}`;
  const rest = OUTCOMES.filter((o) => o !== expected && counts[o]).map((o) => `${counts[o]} ${o}`);
  return [first, ...rest].join(", ");
}

export function renderTable(rows: readonly RowSummary[]): string {
  const header = [
    "channel",
    "case",
    "sent",
    "lasthop (GET /v1/messages/:id)",
    "simulators (last hops, ESP webhooks)",
    "receiver (event stream)",
    "",
  ];
  const body = rows.map((r) => [
    r.channel,
    r.case,
    String(r.sent),
    cell(r.lasthop, r.expected),
    cell(r.simulators, r.expected),
    cell(r.receiver, r.expected),
    r.ok ? "ok" : "MISMATCH",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const format = (line: string[]) =>
    line
      .map((text, i) => (i === 2 ? text.padStart(widths[i]!) : text.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "─".repeat(w)).join("  ");
  return [format(header), rule, ...body.map(format)].join("\n");
}
