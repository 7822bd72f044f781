/**
 * Digital Arts m-FILTER: X-Mailer "m-FILTER", Subject "failure notice". After its Japanese
 * preamble ("以下のメールアドレスへの送信に失敗しました。") the recipient is a bare address line;
 * the remote reply follows "-------server message" and the SMTP command "-------SMTP command",
 * until "-------original message". Markers after Sisimai::Lhost::mFILTER, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const mfilter = blockLhost({
  name: "mFILTER",
  detect: { subject: /^failure notice$/, header: ["x-mailer", /^\s*m-FILTER\s*$/] },
  recipient: /^<?([^\s<>@]+@[^\s<>@]+?)>?\s*$/,
  following: "block",
  fields: {
    diagnostic: /^-+server message\s*\n(?:\s*\n)*(.+)$/m,
    command: /^-+SMTP command\s*\n(?:\s*\n)*([A-Za-z]{4})\s*$/m,
  },
});
