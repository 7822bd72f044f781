/**
 * A minimal RFC 3464 delivery status notification for one of our messages, addressed to
 * its VERP return-path, as a receiving MTA would send it. Shared by the Worker tests and
 * the inbound benchmark.
 */
export function dsn(
  messageId: string,
  recipient: string,
  status = "5.1.1",
  diagnostic = "550 5.1.1 <user>: Recipient address rejected: User unknown in local recipient table",
) {
  return [
    "From: MAILER-DAEMON@mx.example.net",
    `To: bounce+${messageId}@bounces.lasthop.test`,
    "Subject: Undelivered Mail Returned to Sender",
    "Date: Sun, 22 Nov 2026 07:00:00 +0000",
    `Message-ID: <dsn-${messageId}@mx.example.net>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: text/plain",
    "",
    "I'm sorry to have to inform you that your message could not be delivered.",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.net",
    "Arrival-Date: Sun, 22 Nov 2026 06:59:59 +0000",
    "",
    `Final-Recipient: rfc822; ${recipient}`,
    "Action: failed",
    `Status: ${status}`,
    "Remote-MTA: dns; mail.example.org",
    `Diagnostic-Code: smtp; ${diagnostic}`,
    "",
    "--B",
    "Content-Type: text/rfc822-headers",
    "",
    "From: news@lasthop.test",
    `To: ${recipient}`,
    `Message-ID: <${messageId}@lasthop.test>`,
    "",
    "--B--",
    "",
  ].join("\r\n");
}
