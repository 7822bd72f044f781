/** A reader's recipient from the RFC 3464 fields of its text (dsntext.ts). */
import type { DsnTextRecipient } from "./dsntext.ts";
import type { LhostRecipient } from "./types.ts";

export function fromDsn(r: DsnTextRecipient, extra: Partial<LhostRecipient> = {}): LhostRecipient {
  return {
    recipient: r.recipient,
    diagnostic: r.diagnostic,
    ...(r.status ? { status: r.status } : {}),
    ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
    ...(r.action === "delayed" ? { action: "delayed" as const } : {}),
    ...extra,
  };
}
