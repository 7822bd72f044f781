/**
 * Microsoft Exchange Server 2007 and later (plain-text NDR): Subject "Undeliverable: …" (or
 * its translations), a Content-Language header, and a section "Diagnostic information for
 * administrators:" naming the generating server, then per recipient a bare address line and
 * the reply on the next line: `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##` or
 * `Remote Server returned '550 5.1.1 …'`. The Exchange error name (RESOLVER.*, QUEUE.*,
 * SMTPSEND.*) is Exchange's own reason. Markers after Sisimai::Lhost::Exchange2007, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "Exchange2007",
  detect: {
    subject:
      /^(?:Undeliverable|Non remis|Non recapitabile|Unzustellbar|No se puede entregar|Onbestelbaar|Não entregue|Niedostarczalne|配信不能|無法傳遞):/,
    body: /^Diagnostic information for administrators:/m,
  },
  begin: /^Diagnostic information for administrators:/m,
  recipient: /^<?([^\s<>@]+@[^\s<>@]+?)>?\s*$/,
  following: "paragraph",
  fields: {
    status: /\b[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b/,
    diagnostic: /^(?:#|.*Remote Server (?:at .+? )?returned ')?([245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*?)(?:'|\s*##)?\s*$/m,
  },
  messages: [
    ["hostunknown", ["SMTPSEND.DNS.NonExistentDomain"]],
    ["networkerror", ["SMTPSEND.DNS.MxLoopback"]],
    ["userunknown", ["RESOLVER.ADR.RecipNotFound", "RESOLVER.ADR.ExRecipNotFound"]],
    ["toomanyconn", ["RESOLVER.ADR.RecipLimit"]],
    ["systemerror", ["RESOLVER.ADR.BadPrimary", "RESOLVER.ADR.InvalidInSmtp", "RESOLVER.ADR.Ambiguous"]],
    ["securityerror", ["RESOLVER.RST.AuthRequired"]],
    ["rejected", ["RESOLVER.RST.NotAuthorized"]],
    ["mesgtoobig", ["RESOLVER.RST.RecipSizeLimit"]],
    ["expired", ["QUEUE.Expired"]],
  ],
});

export const exchange2007: Lhost = {
  ...base,
  detect: (input) => input.headers.has("content-language") && base.detect(input),
};
