/**
 * A fake DNS-over-HTTPS resolver (JSON API) for the Worker tests, at TEST_DOH_HOST: it answers
 * from records a test publishes, NXDOMAIN (Status 3) for a name with none of any type, and
 * SERVFAIL (Status 2) for any name under a domain whose first label starts with `servfail`.
 * TXT values are answered as resolvers do, in quoted 255-octet strings.
 *
 * It wraps `fetch` by hand rather than with vi.spyOn, so the bridge fake can spy on top of it.
 */
import { TEST_DOH_HOST } from "../fixtures.ts";

const TYPES: Record<string, number> = { CNAME: 5, MX: 15, TXT: 16 };

export type DohRecord = { name: string; type: "TXT" | "MX" | "CNAME"; value: string; priority?: number };

export function installDoh() {
  const records: DohRecord[] = [];
  const queries: Array<{ name: string; type: string; accept: string | null }> = [];
  const previous = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.hostname !== TEST_DOH_HOST) return previous(input as RequestInfo, init);
    const name = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
    const type = url.searchParams.get("type") ?? "";
    queries.push({ name, type, accept: request.headers.get("accept") });
    if (name.split(".").some((label) => label.startsWith("servfail"))) return Response.json({ Status: 2 });
    const atName = records.filter((r) => r.name === name);
    if (atName.length === 0) return Response.json({ Status: 3, Question: [{ name, type: TYPES[type] }] });
    const Answer = atName
      .filter((r) => r.type === type)
      .map((r) => ({
        name: `${name}.`,
        type: TYPES[type],
        TTL: 300,
        data: r.type === "TXT" ? quoted(r.value) : r.type === "MX" ? `${r.priority ?? 10} ${r.value}.` : `${r.value}.`,
      }));
    return Response.json({ Status: 0, Question: [{ name, type: TYPES[type] }], ...(Answer.length > 0 ? { Answer } : {}) });
  }) as typeof fetch;
  return {
    records,
    queries,
    publish(...add: DohRecord[]) {
      for (const r of add) records.push({ ...r, name: r.name.toLowerCase() });
    },
    unpublish(name: string, type: string) {
      for (let i = records.length - 1; i >= 0; i--) if (records[i]!.name === name && records[i]!.type === type) records.splice(i, 1);
    },
    restore() {
      globalThis.fetch = previous;
    },
  };
}

/** A TXT value as a resolver shows it: character-strings of at most 255 octets, quoted. */
function quoted(value: string): string {
  const chunks = value.match(/.{1,255}/g) ?? [""];
  return chunks.map((c) => `"${c.replace(/["\\]/g, "\\$&")}"`).join(" ");
}
