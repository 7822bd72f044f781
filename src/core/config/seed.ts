/**
 * The deployment's seed accounts: `API_KEYS` (sha256-hex of a key → account), `EMAIL_CONFIG`
 * and `SMS_CONFIG` (account → section). They are read once, when an account's ConfigDO first
 * wakes, and written through the same calls the API makes; after that the store is the one
 * truth (a seeded key revoked through the API stays revoked). `npm start` seeds `dev` this way.
 */
import { accountConfigs } from "../account-config.ts";
import { emailAccountConfig, type EmailAccountConfig } from "../email.ts";
import { smsAccountConfig, type SmsAccountConfig } from "../sms/account.ts";

export type SeedSettings = { API_KEYS?: string; EMAIL_CONFIG?: string; SMS_CONFIG?: string };
export type AccountSeed = { account: string; keyHashes: string[]; email?: EmailAccountConfig; sms?: SmsAccountConfig };

const cache = new Map<string, ReadonlyMap<string, AccountSeed>>();

/** Every seeded account (a Map: account names come from requests and must not reach a prototype). */
export function seedAccounts(settings: SeedSettings): ReadonlyMap<string, AccountSeed> {
  const cacheKey = `${settings.API_KEYS ?? ""}\n${settings.EMAIL_CONFIG ?? ""}\n${settings.SMS_CONFIG ?? ""}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const seeds = new Map<string, AccountSeed>();
  const of = (account: string) => {
    let seed = seeds.get(account);
    if (!seed) {
      seed = { account, keyHashes: [] };
      seeds.set(account, seed);
    }
    return seed;
  };
  for (const [hash, account] of keyEntries(settings.API_KEYS)) of(account).keyHashes.push(hash);
  for (const [account, email] of accountConfigs(settings.EMAIL_CONFIG, emailAccountConfig)) of(account).email = email;
  for (const [account, sms] of accountConfigs(settings.SMS_CONFIG, smsAccountConfig)) of(account).sms = sms;
  cache.set(cacheKey, seeds);
  return seeds;
}

/** The seeded account a key hash belongs to, or null. */
export function seededKeyAccount(settings: SeedSettings, hash: string): string | null {
  for (const seed of seedAccounts(settings).values()) if (seed.keyHashes.includes(hash)) return seed.account;
  return null;
}

function keyEntries(json: string | undefined): Array<[string, string]> {
  if (!json) return [];
  try {
    const value: unknown = JSON.parse(json);
    if (!value || typeof value !== "object" || Array.isArray(value)) return [];
    return Object.entries(value).filter(
      (e): e is [string, string] => /^[0-9a-f]{64}$/.test(e[0]) && typeof e[1] === "string" && e[1] !== "",
    );
  } catch {
    console.error(JSON.stringify({ msg: "API_KEYS is not JSON: no seeded key is valid" }));
    return [];
  }
}
