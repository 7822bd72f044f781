/**
 * Every MTA family lasthop has a reader for, most specific first: the first whose `detect`
 * holds reads the report. One file per MTA; the table of what each recognises and reads is
 * its test (test/core/lhost-<name>.test.ts).
 */
import { amavis } from "./amavis.ts";
import { aol } from "./aol.ts";
import { apachejames } from "./apachejames.ts";
import { barracuda } from "./barracuda.ts";
import { bigfoot } from "./bigfoot.ts";
import { biglobe } from "./biglobe.ts";
import { courier } from "./courier.ts";
import { einsundeins } from "./einsundeins.ts";
import { exim } from "./exim.ts";
import { ezweb } from "./ezweb.ts";
import { facebook } from "./facebook.ts";
import { gmx } from "./gmx.ts";
import { kddi } from "./kddi.ts";
import { mailru } from "./mailru.ts";
import { messagelabs } from "./messagelabs.ts";
import { mxlogic } from "./mxlogic.ts";
import { postfix } from "./postfix.ts";
import { powermta } from "./powermta.ts";
import { qmail } from "./qmail.ts";
import { sendmail } from "./sendmail.ts";
import { verizon } from "./verizon.ts";
import { yandex } from "./yandex.ts";
import { zoho } from "./zoho.ts";
import type { Lhost, LhostInput } from "./types.ts";

export const lhosts: readonly Lhost[] = [
  // Providers and appliances first, then the generic MTAs.
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
  courier,
  qmail,
  exim,
  postfix,
  sendmail,
];

/** The reader of the MTA that wrote this report, if lasthop knows it. */
export function lhostOf(input: LhostInput): Lhost | undefined {
  return lhosts.find((l) => l.detect(input));
}
