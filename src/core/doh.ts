/**
 * DNS over HTTPS, JSON form (the `application/dns-json` API of Cloudflare's and Google's
 * resolvers): `GET <resolver>?name=<name>&type=<TXT|MX|CNAME>` answers
 * `{Status, Answer: [{name, type, TTL, data}]}`. Parsing is here and pure; the one fetch is
 * `lookup`, which never throws: a resolver that cannot answer is a `Lookup` of kind `error`.
 */
import { z } from "zod";
import { joinTxt, type Lookup, type RecordType } from "./domains.ts";

/** RR type numbers (RFC 1035 §3.2.2). */
export const RR_TYPES: Record<RecordType, number> = { CNAME: 5, MX: 15, TXT: 16 };

const dohAnswer = z.object({
  Status: z.number().int(),
  Answer: z.array(z.object({ name: z.string(), type: z.number().int(), data: z.string() })).optional(),
});

/** DNS RCODEs (RFC 1035 §4.1.1): 0 NOERROR, 3 NXDOMAIN; anything else is a failed lookup. */
export function parseDohAnswer(body: unknown, type: RecordType): Lookup {
  const parsed = dohAnswer.safeParse(body);
  if (!parsed.success) return { kind: "error", message: "the resolver's answer is not DNS JSON" };
  const { Status, Answer } = parsed.data;
  if (Status === 3) return { kind: "nxdomain" };
  if (Status !== 0) return { kind: "error", message: `the resolver answered RCODE ${Status}` };
  // A CNAME chain comes back with the records it leads to: only the asked type counts.
  const values = (Answer ?? []).filter((a) => a.type === RR_TYPES[type]).map((a) => (type === "TXT" ? joinTxt(a.data) : a.data.trim()));
  return { kind: "answer", values };
}

/** One DoH query. Bounded in time: a check is a request's work, not a background job. */
export async function lookup(resolver: string, name: string, type: RecordType, timeoutMs = 5_000): Promise<Lookup> {
  try {
    // Inside the try: a DOH_URL that is not a URL is a failed lookup too, not a 500.
    const url = new URL(resolver);
    url.searchParams.set("name", name);
    url.searchParams.set("type", type);
    const res = await fetch(url, { headers: { accept: "application/dns-json" }, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { kind: "error", message: `the resolver answered HTTP ${res.status}` };
    return parseDohAnswer(await res.json(), type);
  } catch (error) {
    return { kind: "error", message: `the resolver could not be reached: ${(error as Error).message}` };
  }
}
