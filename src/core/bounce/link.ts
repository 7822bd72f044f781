/**
 * Which lasthop message a report is about. Evidence in order of trust:
 * 1. the VERP return-path the report was sent to (`bounce+<id>@bounce domain`): set by us,
 *    survives receivers that strip every header;
 * 2. `X-Lasthop-Message-Id` in the returned message or headers;
 * 3. `Message-ID: <id@domain>` in the returned message or headers;
 * 4. RFC 3464 `Original-Envelope-Id` (ENVID);
 * 5. `In-Reply-To`/`References` of the report itself (auto-replies quote our Message-ID).
 * Only UUIDs count: any other id belongs to someone else's message. In Message-ID and
 * In-Reply-To only ids shaped like ours count (lower-case, version 4 or 8): Apple Mail,
 * for one, writes upper-case UUIDs into the Message-IDs of mail we never sent.
 */
import { messageIdFromVerp } from "../email.ts";
import { addressesIn } from "./address.ts";
import { header, type Headers } from "./headers.ts";
import type { FeedbackReport } from "./types.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The ids messageIdFor (ids.ts) makes: crypto.randomUUID (v4) or the idempotency-key v8, lower-case. */
const OUR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[48][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export type LinkEvidence = {
  /** Envelope recipient(s) the report arrived for (given by the caller, or read from its headers). */
  envelopeTo: readonly string[];
  /** Headers of the returned message (message/rfc822, text/rfc822-headers, SES `mail.headers`). */
  returned: readonly Headers[];
  /** The report's text after its own header block, for headers quoted inline. */
  body: string;
  originalEnvelopeId?: string;
  reportHeaders: Headers;
};

export type Link = { messageId: string; linkedBy: NonNullable<FeedbackReport["linkedBy"]> };

export function linkMessage(evidence: LinkEvidence): Link | null {
  for (const to of evidence.envelopeTo) {
    for (const address of addressesIn(to)) {
      const id = messageIdFromVerp(address);
      if (id) return { messageId: id, linkedBy: "verp" };
    }
  }
  for (const headers of evidence.returned) {
    const id = uuid(header(headers, "x-lasthop-message-id"));
    if (id) return { messageId: id, linkedBy: "x-lasthop-message-id" };
  }
  for (const headers of evidence.returned) {
    const id = uuidAddr(header(headers, "message-id"));
    if (id) return { messageId: id, linkedBy: "message-id" };
  }
  // Headers quoted inline (qmail, Exim, Gmail paste the returned message into the text).
  const body = evidence.body.slice(0, 2 * 1024 * 1024);
  // The field names first, as plain words: a line-anchored pattern is tried at every position of the body.
  const quotedOwn = /X-Lasthop-Message-Id:/i.test(body)
    ? /^[ \t>]*X-Lasthop-Message-Id:[ \t]*([0-9a-f-]{36})\b/im.exec(body)?.[1]
    : undefined;
  if (quotedOwn && UUID.test(quotedOwn)) return { messageId: quotedOwn.toLowerCase(), linkedBy: "x-lasthop-message-id" };
  const quotedId = body.includes("Message-I") ? /^[ \t>]*Message-I[Dd]:[ \t]*<([0-9a-fA-F-]{36})@[^>\s]+>/m.exec(body)?.[1] : undefined;
  if (quotedId && OUR_ID.test(quotedId)) return { messageId: quotedId, linkedBy: "message-id" };
  const envid = uuid(evidence.originalEnvelopeId);
  if (envid) return { messageId: envid, linkedBy: "original-envelope-id" };
  for (const name of ["in-reply-to", "references"]) {
    for (const value of evidence.reportHeaders.get(name) ?? []) {
      for (const [, local = ""] of value.matchAll(/<([^<>@\s]+)@[^<>\s]+>/g)) {
        if (OUR_ID.test(local)) return { messageId: local, linkedBy: "in-reply-to" };
      }
    }
  }
  return null;
}

function uuid(value: string | undefined): string | undefined {
  const v = value?.trim().replace(/^<|>$/g, "");
  return v && UUID.test(v) ? v.toLowerCase() : undefined;
}

function uuidAddr(value: string | undefined): string | undefined {
  const local = /<?\s*([^<>@\s]+)@[^<>\s]+>?/.exec(value ?? "")?.[1];
  return local && OUR_ID.test(local) ? local : undefined;
}
