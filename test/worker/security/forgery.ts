/**
 * The forged-request barrage (issue 17): a thousand requests per signature scheme, spread over
 * the kinds of forgery that scheme can meet, sent a few at a time, each answer tallied by kind.
 * A scheme's test then proves the state did not move; this file only counts answers.
 */
import { expect } from "vitest";

export type Kind =
  | "wrong_key"
  | "bit_flip"
  | "body_changed"
  | "stale"
  | "replay"
  | "cross_account"
  | "cross_door"
  | "foreign_cert"
  | "no_credentials";

/** One forgery of a kind; `i` makes each one distinct (its own victim, its own event id). */
export type Maker = (i: number) => Promise<Response>;

export type Tally = { sent: number; refused: number; statuses: Record<number, number> };
export type Barrage = { scheme: string; total: number; accepted: number; byKind: Partial<Record<Kind, Tally>> };

const CONCURRENCY = 12;

/**
 * Sends `total` forgeries, round robin over `makers`, and judges each answer with `refused`.
 * `duplicates` names kinds the scheme answers like a valid request by design (a replay where the
 * scheme keeps no replay state): they are counted apart, and the caller proves they changed nothing.
 */
export async function barrage(
  scheme: string,
  makers: Partial<Record<Kind, Maker>>,
  refused: (res: Response, kind: Kind) => boolean,
  opts: { total?: number; duplicates?: Kind[] } = {},
): Promise<Barrage> {
  const total = opts.total ?? 1000;
  const kinds = Object.keys(makers) as Kind[];
  const byKind: Partial<Record<Kind, Tally>> = {};
  for (const kind of kinds) byKind[kind] = { sent: 0, refused: 0, statuses: {} };
  let next = 0;
  let accepted = 0;
  const examples: string[] = [];
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const kind = kinds[i % kinds.length]!;
      const res = await makers[kind]!(i);
      const body = await res.text();
      const tally = byKind[kind]!;
      tally.sent++;
      tally.statuses[res.status] = (tally.statuses[res.status] ?? 0) + 1;
      if (refused(res, kind)) tally.refused++;
      else if (!opts.duplicates?.includes(kind)) {
        accepted++;
        if (examples.length < 3) examples.push(`${kind} #${i}: ${res.status} ${body.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const result = { scheme, total, accepted, byKind };
  report(result);
  expect(accepted, `forgeries accepted by ${scheme}:\n${examples.join("\n")}`).toBe(0);
  return result;
}

/** The per-scheme figure, one line, for the run's log. */
function report({ scheme, total, accepted, byKind }: Barrage): void {
  const parts = Object.entries(byKind).map(([kind, t]) => {
    const statuses = Object.entries(t!.statuses)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
    return `${kind} ${t!.sent} (${statuses})`;
  });
  console.log(`[forged] ${scheme}: ${total} sent, ${accepted} accepted — ${parts.join("; ")}`);
}

/** One bit (`i`, mod the length) of base64 or base64url text flipped, re-encoded in the same alphabet and padding. */
export function flipBase64(text: string, i: number): string {
  const url = /[-_]/.test(text) || (!/[+/=]/.test(text) && text.length % 4 !== 0);
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(std + "=".repeat((4 - (std.length % 4)) % 4)), (c) => c.charCodeAt(0));
  bytes[Math.floor(i / 8) % bytes.length]! ^= 1 << (i % 8);
  const out = btoa(String.fromCharCode(...bytes));
  const padding = text.endsWith("=") ? out : out.replace(/=+$/, "");
  return url ? padding.replace(/\+/g, "-").replace(/\//g, "_") : padding;
}

/** Bit `i` (mod the length) of hex text flipped. */
export function flipHex(text: string, i: number): string {
  const at = Math.floor(i / 4) % text.length;
  const nibble = Number.parseInt(text[at]!, 16) ^ (1 << (i % 4));
  return text.slice(0, at) + nibble.toString(16) + text.slice(at + 1);
}

/** Standard Webhooks' `v1,<base64>` with one bit of the MAC flipped. */
export function flipSignature(header: string, i: number): string {
  const [version, mac] = header.split(",");
  return `${version},${flipBase64(mac!, i)}`;
}
