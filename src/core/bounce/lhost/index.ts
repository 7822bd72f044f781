/**
 * Every MTA family lasthop has a reader for, most specific first: the first whose `detect`
 * holds reads the report. One file per MTA; the table of what each recognises and reads is
 * its test (test/core/lhost-<name>.test.ts).
 */
import { amazonses } from "./amazonses.ts";
import { amazonworkmail } from "./amazonworkmail.ts";
import { courier } from "./courier.ts";
import { deutschetelekom } from "./deutschetelekom.ts";
import { dragonfly } from "./dragonfly.ts";
import { gmail } from "./gmail.ts";
import { googlegroups } from "./googlegroups.ts";
import { googleworkspace } from "./googleworkspace.ts";
import { mimecast } from "./mimecast.ts";
import { office365 } from "./office365.ts";
import { outlook } from "./outlook.ts";
import { receivingses } from "./receivingses.ts";
import { sendgrid } from "./sendgrid.ts";
import type { Lhost, LhostInput } from "./types.ts";
import { yahoo } from "./yahoo.ts";

export const lhosts: readonly Lhost[] = [
  // Providers, recognised by their own From, headers or sentences.
  googlegroups,
  googleworkspace,
  gmail,
  yahoo,
  outlook,
  office365,
  amazonworkmail,
  receivingses,
  amazonses,
  sendgrid,
  mimecast,
  deutschetelekom,
  // MTAs.
  courier,
  dragonfly,
];

/** The reader of the MTA that wrote this report, if lasthop knows it. */
export function lhostOf(input: LhostInput): Lhost | undefined {
  return lhosts.find((l) => l.detect(input));
}
