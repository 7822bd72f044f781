// Message search at scale (issue 16): one page of GET /v1/messages through lasthop's own search
// code and AccountDO index, timed with 1,000,000 messages indexed, against the same page with
// 1,000 indexed (the baseline), in the same Worker, run and machine. A ratio near 1 means the
// page does not slow down as the account grows.
import { fileURLToPath } from "node:url";
import { startLocalWorker } from "./baseline.ts";
import { median } from "./net.ts";
import type { Figure } from "./report.ts";

export type SearchSettings = { large: number; small: number; fillChunk: number; repeats: number; limit: number };

const QUERIES: Array<[string, string]> = [
  ["newest page", ""],
  ["one recipient (≈20 of 1M)", "recipient=user4242%40example.com"],
  ["a tag (1 in 10)", "tag=weekly"],
  ["a rare tag (1 in 100) + status", "tag=welcome&status=delivered"],
  ["status bounced", "status=bounced"],
  ["route sendgrid + from", "route=sendgrid&from=2026-01-05T00:00:00Z"],
  ["provider id", "providerMessageId=pm-777777"],
];

export async function searchAtScale(s: SearchSettings, persistTo: string, notes: string[]): Promise<Figure[]> {
  const worker = await startLocalWorker({
    config: fileURLToPath(new URL("./search/wrangler.toml", import.meta.url)),
    vars: {},
    persistTo,
  });
  try {
    const fillStarted = performance.now();
    await fill(worker.url, "large", s.large, s.fillChunk);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    await fill(worker.url, "small", s.small, s.fillChunk);
    notes.push(
      `message search: indexed ${s.large.toLocaleString("en")} messages in ${fillSeconds.toFixed(1)} s (16 shards, ${s.fillChunk} per fill call), and ${s.small} for the baseline account`,
    );
    const figures: Figure[] = [];
    for (const [name, query] of QUERIES) {
      // Warm both accounts' shards once (a cold Durable Object start is not the page's cost).
      await page(worker.url, "large", query, s.limit);
      await page(worker.url, "small", query, s.limit);
      const large: number[] = [];
      const small: number[] = [];
      let found = { large: 0, small: 0 };
      for (let r = 0; r < s.repeats; r++) {
        const a = await page(worker.url, "large", query, s.limit);
        const b = await page(worker.url, "small", query, s.limit);
        large.push(a.ms);
        small.push(b.ms);
        found = { large: a.rows, small: b.rows };
      }
      figures.push({
        name: `message search page, ${name} (GET /v1/messages, ${s.large.toLocaleString("en")} indexed)`,
        unit: "ms (median)",
        value: median(large),
        baselines: [{ name: `the same page with ${s.small.toLocaleString("en")} indexed`, value: median(small) }],
        settings: `limit ${s.limit}, ${s.repeats} pages each (alternating), rows on the page ${found.large} / ${found.small}; p90 ${quantile(large, 0.9).toFixed(1)} / ${quantile(small, 0.9).toFixed(1)} ms; ${query || "no filter"}`,
      });
    }
    return figures;
  } finally {
    await worker.close();
  }
}

async function fill(url: string, account: string, count: number, chunk: number): Promise<void> {
  for (let from = 0; from < count; from += chunk) {
    // A chunk is rows by id through AccountDO's own index() (an upsert): one that failed (a
    // local runtime that dropped the connection under this load) is sent again, at most 3 times.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${url}/fill?account=${account}&from=${from}&to=${Math.min(count, from + chunk)}`, { method: "POST" });
      if (res.ok) {
        await res.body?.cancel();
        break;
      }
      const why = `fill ${account} ${from}: ${res.status} ${await res.text()}`;
      if (attempt === 3) throw new Error(why);
      console.error(`bench: ${why} (try ${attempt} of 3)`);
    }
  }
}

async function page(url: string, account: string, query: string, limit: number): Promise<{ ms: number; rows: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/messages?account=${account}&limit=${limit}${query ? `&${query}` : ""}`);
  const body = (await res.json()) as { data?: unknown[] };
  const ms = performance.now() - started;
  if (!res.ok) throw new Error(`search ${account} ${query}: ${res.status} ${JSON.stringify(body)}`);
  return { ms, rows: body.data?.length ?? 0 };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
