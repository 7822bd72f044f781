/**
 * OpenSMTPD (https://www.opensmtpd.org/): Subject "Delivery status notification…", From
 * "Mailer Daemon <…>", a Received header "… (OpenSMTPD) with …". After "This is the
 * MAILER-DAEMON, please DO NOT REPLY to this e-mail." each recipient is one line
 * `user@example.com: <the error>` (the remote reply or OpenSMTPD's own), until "Below is a copy
 * of the original message:". A delay warning says "A message is delayed for more than …".
 * Markers after Sisimai::Lhost::OpenSMTPD, BSD 2-Clause (and OpenSMTPD's bounce.c).
 */
import { blockLhost } from "./block.ts";

export const opensmtpd = blockLhost({
  name: "OpenSMTPD",
  detect: { subject: /Delivery status notification/i, from: /Mailer Daemon </i, header: ["received", / \(OpenSMTPD\) with /] },
  begin: /This is the MAILER-DAEMON, please DO NOT REPLY to this/,
  end: /^\s*Below is a copy of the original message/m,
  recipient: /^<?([^\s<>@:]+@[^\s<>:]+?)>?:\s+(.+)$/,
  following: "none",
  delayed: /A message is delayed for more than/,
});
