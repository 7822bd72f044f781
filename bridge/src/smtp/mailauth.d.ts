/**
 * Types for the parts of mailauth's DKIM internals (plain CommonJS, no types of their own) that
 * bridge/src/smtp/dkim.ts signs with: header parsing and selection, relaxed canonicalization,
 * the signature header's format. The same code mailauth's own `dkimSign` runs.
 */
declare module "mailauth/lib/tools.js" {
  export type ParsedHeader = { key: string | null; casedKey: string | undefined; line: Buffer };
  export type ParsedHeaders = { parsed: ParsedHeader[]; original: Buffer };
  export type SigningHeaderLines = { keys: string; headers: ParsedHeader[] };
  export function parseHeaders(buf: Buffer): ParsedHeaders;
  export function getSigningHeaderLines(parsed: ParsedHeader[], fieldNames: string, verify?: boolean): SigningHeaderLines;
  export function formatSignatureHeaderLine(type: "DKIM", values: Record<string, unknown>, folded: boolean): string;
  export function toALabel(domain: string): string;
  const tools: {
    parseHeaders: typeof parseHeaders;
    getSigningHeaderLines: typeof getSigningHeaderLines;
    formatSignatureHeaderLine: typeof formatSignatureHeaderLine;
    toALabel: typeof toALabel;
  };
  export default tools;
}

declare module "mailauth/lib/dkim/body/index.js" {
  export type BodyHasher = { update(chunk: Buffer): void; digest(encoding: "base64"): string };
  export function dkimBody(canonicalization: "relaxed" | "simple", hashAlgo: "sha256", maxBodyLength: false): BodyHasher;
  const body: { dkimBody: typeof dkimBody };
  export default body;
}

declare module "mailauth/lib/dkim/header/index.js" {
  import type { SigningHeaderLines } from "mailauth/lib/tools.js";
  export function generateCanonicalizedHeader(
    type: "DKIM",
    signingHeaderLines: SigningHeaderLines,
    options: Record<string, unknown>,
  ): { canonicalizedHeader: Buffer; signatureHeaderLine: string; dkimHeaderOpts: Record<string, unknown> };
  const header: { generateCanonicalizedHeader: typeof generateCanonicalizedHeader };
  export default header;
}

declare module "mailauth/lib/dkim/syntax.js" {
  const syntax: { DOMAIN_NAME: RegExp; SELECTOR: RegExp };
  export default syntax;
}
