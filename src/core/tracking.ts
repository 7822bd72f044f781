/**
 * Open and click tracking, the pure parts: the account's `tracking` section and a send's
 * override, the signed link token, the html rewrite (links and pixel), the machine classifier
 * and the privacy rules for what an event keeps of the reader's IP and user agent.
 */
import { z } from "zod";
import { signToken, verifyToken } from "./signed-token.ts";

/** The account's `tracking` section (`/v1/email/tracking`). Everything is off until asked for. */
export const trackingSection = z.strictObject({
  opens: z.boolean().default(false).describe("add an open pixel to html mail"),
  clicks: z.boolean().default(false).describe("rewrite html links through /t/c/{token}"),
  privacy: z
    .enum(["full", "truncated", "none"])
    .default("truncated")
    .describe("what an open or click keeps: full IP and user agent; the IP cut to /24 (IPv4) or /48 (IPv6) and the user agent; or neither"),
});
export type TrackingSection = z.infer<typeof trackingSection>;
export type TrackingPrivacy = TrackingSection["privacy"];

/** A send's own choice (`tracking` on an email), over the account's. */
export const trackingOverride = z.strictObject({ opens: z.boolean().optional(), clicks: z.boolean().optional() });
export type TrackingOverride = z.infer<typeof trackingOverride>;

export function trackingWanted(
  section: TrackingSection | undefined,
  override: TrackingOverride | undefined,
): { opens: boolean; clicks: boolean } {
  return { opens: override?.opens ?? section?.opens ?? false, clicks: override?.clicks ?? section?.clicks ?? false };
}

/** `o` a pixel, `c` a link: the token names which, and for a link its index, never its URL. */
export type TrackingClaim = { account: string; messageId: string; kind: "o" | "c"; index: number };

/** Its own key (derived from the link secret): an unsubscribe token is refused here and the other way round. */
const PURPOSE = "tracking";

export function signTrackingToken(secret: string, claim: TrackingClaim): Promise<string> {
  return signToken(secret, PURPOSE, [claim.account, claim.messageId, claim.kind, claim.index]);
}

/** The claim of a token we signed, or null: forged, tampered, the wrong shape or the other kind. */
export async function verifyTrackingToken(secret: string, token: string, kind: "o" | "c"): Promise<TrackingClaim | null> {
  const value = await verifyToken(secret, PURPOSE, token, 4);
  if (!value) return null;
  const [account, messageId, k, index] = value;
  if (typeof account !== "string" || typeof messageId !== "string" || k !== kind || typeof index !== "number" || index < 0) return null;
  return { account, messageId, kind, index };
}

// `<a … href=value`: double-quoted, single-quoted or bare. Group 1 is everything before the value.
const ANCHOR_HREF = /(<a\b[^>]*?\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)/gi;

const ENTITIES: Record<string, string> = { amp: "&", quot: '"', apos: "'", lt: "<", gt: ">" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (whole, name: string) => {
    if (name[0] !== "#") return ENTITIES[name.toLowerCase()] ?? whole;
    const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/**
 * The URL a link leads to, when it is one we track: http or https only (mailto:, tel:,
 * anchors and the rest keep their href), and never lasthop's own links (the unsubscribe page,
 * another tracking link), which `ownBase` (PUBLIC_URL) starts.
 */
function trackedUrl(rawValue: string, ownBase: string): string | null {
  const value = decodeEntities(rawValue.replace(/^["']|["']$/g, "")).trim();
  if (!/^https?:\/\//i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const own = ownBase.replace(/\/$/, "");
  if (url.href.startsWith(`${own}/u/`) || url.href.startsWith(`${own}/t/`)) return null;
  return url.href;
}

/**
 * The links a click token may lead to, in the order of the html: the index a token carries is
 * an index into this list, computed from the message's own html at send and at click, so a
 * click can only ever lead to a link that was in the message.
 */
export function trackedLinks(html: string, ownBase: string): string[] {
  const links: string[] = [];
  for (const match of html.matchAll(ANCHOR_HREF)) {
    const url = trackedUrl(match[2]!, ownBase);
    if (url !== null) links.push(url);
  }
  return links;
}

export type TrackingLinks = { base: string; secret: string; account: string; messageId: string };

/** The html with each tracked link pointing at `/t/c/{token}` (same order as `trackedLinks`). */
export async function rewriteLinks(html: string, t: TrackingLinks): Promise<string> {
  const tokens: string[] = [];
  let index = 0;
  for (const match of html.matchAll(ANCHOR_HREF)) {
    if (trackedUrl(match[2]!, t.base) === null) continue;
    tokens.push(await signTrackingToken(t.secret, { account: t.account, messageId: t.messageId, kind: "c", index: index++ }));
  }
  let k = 0;
  return html.replace(ANCHOR_HREF, (whole, before: string, value: string) =>
    trackedUrl(value, t.base) === null ? whole : `${before}"${t.base.replace(/\/$/, "")}/t/c/${tokens[k++]}"`,
  );
}

/** The html with a 1×1 image before its last `</body>` (or at its end when it has none). */
export async function withPixel(html: string, t: TrackingLinks): Promise<string> {
  const token = await signTrackingToken(t.secret, { account: t.account, messageId: t.messageId, kind: "o", index: 0 });
  const img = `<img src="${t.base.replace(/\/$/, "")}/t/o/${token}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
  const at = html.toLowerCase().lastIndexOf("</body>");
  return at < 0 ? `${html}${img}` : `${html.slice(0, at)}${img}${html.slice(at)}`;
}

/** What a send's html becomes under the tracking it wants. */
export async function trackedHtml(html: string, wanted: { opens: boolean; clicks: boolean }, t: TrackingLinks): Promise<string> {
  const linked = wanted.clicks ? await rewriteLinks(html, t) : html;
  return wanted.opens ? withPixel(linked, t) : linked;
}

/**
 * User-agent fragments of fetchers that are not a person reading: mail security gateways that
 * open every link and image of a message before it is delivered, link-preview bots and HTTP
 * libraries. Lower case; a fragment anywhere in the user agent flags it.
 */
export const machineAgents: readonly string[] = [
  "barracuda",
  "mimecast",
  "proofpoint",
  "symantec",
  "messagelabs",
  "trendmicro",
  "fortiguard",
  "forcepoint",
  "sophos",
  "ironport",
  "zscaler",
  "bitdefender",
  "bot",
  "crawler",
  "spider",
  "preview",
  "headlesschrome",
  "phantomjs",
  "python-requests",
  "python-urllib",
  "aiohttp",
  "curl/",
  "wget/",
  "go-http-client",
  "java/",
  "okhttp",
  "libwww-perl",
  "apache-httpclient",
  "axios/",
  "node-fetch",
  "undici",
];

export type MachineReason = "apple_mpp" | "scanner" | "no_user_agent" | "head_request" | "too_soon";

/** Within this long of `accepted`, an open or click is a machine: nobody reads mail that fast. */
export const TOO_SOON_MS = 1000;

/**
 * Whether an open or click is a machine's, and which rule says so (the first that matches):
 * a HEAD request (a link checker); no user agent; Apple Mail Privacy Protection, whose proxy
 * fetches every image of a message on delivery with the bare user agent `Mozilla/5.0`; a
 * scanner or library user agent (`machineAgents`); or within 1 s of the message's `accepted`
 * (`sinceAcceptedMs`, undefined when it has none yet).
 */
export function machineReason(input: { method: string; userAgent: string; sinceAcceptedMs?: number }): MachineReason | null {
  const ua = input.userAgent.trim();
  if (input.method.toUpperCase() === "HEAD") return "head_request";
  if (ua === "") return "no_user_agent";
  if (ua === "Mozilla/5.0") return "apple_mpp";
  const lower = ua.toLowerCase();
  if (machineAgents.some((fragment) => lower.includes(fragment))) return "scanner";
  if (input.sinceAcceptedMs !== undefined && input.sinceAcceptedMs < TOO_SOON_MS) return "too_soon";
  return null;
}

/** An IPv4 address cut to its /24, an IPv6 one to its /48 (an IPv4-mapped one as IPv4); anything else dropped. */
export function truncateIp(ip: string): string | null {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0`;
  if (!/^[0-9a-f:]+$/i.test(ip) || !ip.includes(":")) return null;
  const [head = "", tail] = ip.split("::");
  const groups = head === "" ? [] : head.split(":");
  if (tail === undefined && groups.length !== 8) return null;
  while (groups.length < 3) groups.push("0");
  const first = groups.slice(0, 3).map((g) => Number.parseInt(g || "0", 16).toString(16));
  return `${first.join(":")}::`;
}

/** What an event keeps of who fetched, per the account's privacy setting. */
export function readerDetail(privacy: TrackingPrivacy, ip: string | null, userAgent: string): { ip?: string | null; userAgent?: string } {
  if (privacy === "none") return {};
  if (privacy === "full") return { ip, userAgent };
  return { ip: ip === null ? null : truncateIp(ip), userAgent };
}
