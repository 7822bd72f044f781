/**
 * TransWARE Active!hunter: an X-AHMailID header. Sendmail-like: under "----- The following
 * addresses had permanent fatal errors -----" each recipient is `>>> user@example.org
 * <user@example.org>`, and after "----- Transcript of session follows -----" the first line is
 * the remote reply ("550 sorry, no mailbox here by that name (#5.1.1 - chkusr)"). Markers after
 * Sisimai::Lhost::Activehunter, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const activehunter = blockLhost({
  name: "Activehunter",
  detect: { header: ["x-ahmailid", /^/] },
  begin: /^\s*-+ The following addresses had permanent fatal errors -+\s*$/m,
  recipient: /^>{3}[ \t]+.*<([^\s<>]+@[^\s<>]+)>\s*$/,
  following: "block",
  fields: { diagnostic: /^([0-9A-Za-z].*)$/m },
});
