/**
 * Which recipient domains the inbound SMTP server takes mail for (INBOUND_DOMAINS). An entry is
 * a domain name, matched as it stands, or `<label>.*`: that label in front of any domain of at
 * least two labels. `lh-bounces.*` takes every sending domain's return-path host
 * (`lh-bounces.<domain>`, the VERP domain of mail From a verified domain) without the bridge
 * knowing any account or domain: whether someone claims the host is the edge's to say (422
 * `not_ours`, which the sender hears as 550).
 */

/** A domain name: labels of letters, digits and hyphens, separated by dots (no trailing dot). */
export const DOMAIN_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** `<label>.*`: one label, then any domain. */
const LABEL_OF_ANY = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.\*$/;

/** Whether an INBOUND_DOMAINS entry (lower-cased) is well formed: a domain name or `<label>.*`. */
export function validInboundEntry(entry: string): boolean {
  return DOMAIN_NAME.test(entry) || LABEL_OF_ANY.test(entry);
}

/** The test of a recipient's domain (lower-cased, A-labels) against the entries. */
export function inboundDomainMatcher(entries: readonly string[]): (domain: string) => boolean {
  const names = new Set<string>();
  const labels = new Set<string>();
  for (const entry of entries.map((e) => e.toLowerCase())) {
    const label = LABEL_OF_ANY.exec(entry)?.[1];
    if (label) labels.add(label);
    else names.add(entry);
  }
  return (domain) => {
    if (names.has(domain)) return true;
    const dot = domain.indexOf(".");
    if (dot < 1 || !labels.has(domain.slice(0, dot))) return false;
    const rest = domain.slice(dot + 1);
    return DOMAIN_NAME.test(rest) && domain.length <= 253;
  };
}
