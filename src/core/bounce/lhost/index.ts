/**
 * Every MTA family lasthop has a reader for, most specific first: the first whose `detect`
 * holds reads the report. One file per MTA; the table of what each recognises and reads is
 * its test (test/core/lhost-<name>.test.ts).
 */
import { activehunter } from "./activehunter.ts";
import { amavis } from "./amavis.ts";
import { amazonses } from "./amazonses.ts";
import { amazonworkmail } from "./amazonworkmail.ts";
import { aol } from "./aol.ts";
import { apachejames } from "./apachejames.ts";
import { barracuda } from "./barracuda.ts";
import { bigfoot } from "./bigfoot.ts";
import { biglobe } from "./biglobe.ts";
import { courier } from "./courier.ts";
import { deutschetelekom } from "./deutschetelekom.ts";
import { domino } from "./domino.ts";
import { dragonfly } from "./dragonfly.ts";
import { einsundeins } from "./einsundeins.ts";
import { exchange2003 } from "./exchange2003.ts";
import { exchange2007 } from "./exchange2007.ts";
import { exim } from "./exim.ts";
import { ezweb } from "./ezweb.ts";
import { facebook } from "./facebook.ts";
import { fml } from "./fml.ts";
import { gmail } from "./gmail.ts";
import { gmx } from "./gmx.ts";
import { googlegroups } from "./googlegroups.ts";
import { googleworkspace } from "./googleworkspace.ts";
import { imailserver } from "./imailserver.ts";
import { interscanmss } from "./interscanmss.ts";
import { kddi } from "./kddi.ts";
import { mailfoundry } from "./mailfoundry.ts";
import { mailmarshalsmtp } from "./mailmarshalsmtp.ts";
import { mailru } from "./mailru.ts";
import { mcafee } from "./mcafee.ts";
import { messagelabs } from "./messagelabs.ts";
import { messagingserver } from "./messagingserver.ts";
import { mfilter } from "./mfilter.ts";
import { mimecast } from "./mimecast.ts";
import { mxlogic } from "./mxlogic.ts";
import { notes } from "./notes.ts";
import { office365 } from "./office365.ts";
import { opensmtpd } from "./opensmtpd.ts";
import { outlook } from "./outlook.ts";
import { postfix } from "./postfix.ts";
import { powermta } from "./powermta.ts";
import { qmail } from "./qmail.ts";
import { receivingses } from "./receivingses.ts";
import { sendgrid } from "./sendgrid.ts";
import { sendmail } from "./sendmail.ts";
import { surfcontrol } from "./surfcontrol.ts";
import { v5sendmail } from "./v5sendmail.ts";
import { verizon } from "./verizon.ts";
import { x1 } from "./x1.ts";
import { x2 } from "./x2.ts";
import { x3 } from "./x3.ts";
import { x4 } from "./x4.ts";
import { x6 } from "./x6.ts";
import { yahoo } from "./yahoo.ts";
import { yandex } from "./yandex.ts";
import { zoho } from "./zoho.ts";
import type { Lhost, LhostInput } from "./types.ts";

export const lhosts: readonly Lhost[] = [
  // Providers and appliances: a header, sender or line of their own.
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
  kddi,
  ezweb,
  biglobe,
  einsundeins,
  gmx,
  verizon,
  facebook,
  mailru,
  yandex,
  aol,
  zoho,
  bigfoot,
  amavis,
  messagelabs,
  barracuda,
  powermta,
  apachejames,
  mxlogic,
  activehunter,
  mcafee,
  mfilter,
  surfcontrol,
  fml,
  mailfoundry,
  opensmtpd,
  interscanmss,
  exchange2003,
  messagingserver,
  // Recognised by a Subject and a line of their own.
  domino,
  notes,
  exchange2007,
  mailmarshalsmtp,
  imailserver,
  // The generic MTAs.
  courier,
  dragonfly,
  qmail,
  exim,
  postfix,
  sendmail,
  // Sisimai's unknown MTAs and old Sendmail: the most generic tests, last.
  x6,
  x3,
  x1,
  x2,
  x4,
  v5sendmail,
];

/** The reader of the MTA that wrote this report, if lasthop knows it. */
export function lhostOf(input: LhostInput): Lhost | undefined {
  return lhosts.find((l) => l.detect(input));
}
