/**
 * What the senders and routes read of an account: its sections opened (secrets in clear),
 * built by the account's ConfigDO and cached per isolate for a few seconds.
 */
import type { Sections } from "./sections.ts";

export type AccountRuntime = {
  account: string;
  disabled: boolean;
  /** Every section the account has set, opened. */
  sections: Partial<Sections>;
  /** Verified sending domains with their DKIM keys (`/v1/domains`), merged into the email section's domains. */
  domains: DomainKeys[];
};

/** A verified domain's DKIM private keys (RSA and Ed25519, each its own selector): mail from it carries both signatures. */
export type DomainKeys = {
  domain: string;
  keys: Array<{ selector: string; privateKey: string; algorithm: "rsa-sha256" | "ed25519-sha256" }>;
};

/** How long an isolate may answer from its copy: revocations and changes are honoured within this. */
export const CONFIG_CACHE_MS = 5_000;

/** An account nobody configured: no section, so each channel answers channel_not_configured. */
export function emptyRuntime(account: string): AccountRuntime {
  return { account, disabled: false, sections: {}, domains: [] };
}
