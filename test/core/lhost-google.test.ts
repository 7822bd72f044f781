import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { googlegroups } from "../../src/core/bounce/lhost/googlegroups.ts";
import { googleworkspace } from "../../src/core/bounce/lhost/googleworkspace.ts";

/** Google Groups' and Google Workspace's reports as Google publishes them, with example addresses. */
const groups = `Hello sender@example.org,

We're writing to let you know that the group you tried to contact (team) may not exist, or you may not have permission to post messages to the group. A few more details on why you weren't able to post:

 * You might have spelled or formatted the group name incorrectly.
 * The owner of the group may have removed this group.
 * You may need to join the group before receiving permission to post.
 * This group may not be open to posting.

If you have questions related to this or any other Google Group, visit the Help Center at https://groups.google.com/support/.

Thanks,

Google Groups
`;

const workspace = `
** Message not delivered **

You're sending this from a different address or alias using the 'Send mail as' feature. The settings for your 'Send mail as' account are misconfigured or out of date. Check those settings and try resending.

Learn more here: https://support.google.com/mail/?p=CustomFromDenied

The response was:
Unspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH capability
`;

const gmailCurrent = `
** Address not found **

Your message wasn't delivered to nobody@example.com because the address couldn't be found, or is unable to receive mail.
`;

const failed = (address: string) => [{ key: "X-Failed-Recipients", value: address }];
const input = (
  report: string,
  headers: Array<{ key: string; value: string }>,
  from = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
) => ({
  headers: headerMap(headers),
  subject: "Delivery Status Notification (Failure)",
  from,
  report,
});

describe("Google Groups and Google Workspace", () => {
  it.each([
    ["Groups: its report", googlegroups, input(groups, failed("team@example.com")), true],
    ["Groups: Gmail's report is not", googlegroups, input(gmailCurrent, failed("nobody@example.com")), false],
    ["Groups: the same words from elsewhere are not", googlegroups, input(groups, [], "MAILER-DAEMON@example.net"), false],
    ["Workspace: its report", googleworkspace, input(workspace, failed("friend@example.jp")), true],
    ["Workspace: Gmail's current form is Gmail's", googleworkspace, input(gmailCurrent, failed("nobody@example.com")), false],
    ["Workspace: a heading from elsewhere is not", googleworkspace, input(workspace, [], "MAILER-DAEMON@example.net"), false],
  ])("detects %s", (_name, reader, given, expected) => {
    expect(reader.detect(given)).toBe(expected);
  });

  it.each([
    [
      "Groups",
      googlegroups,
      input(groups, failed("team@example.com")),
      {
        recipient: "team@example.com",
        diagnostic:
          "We're writing to let you know that the group you tried to contact (team) may not exist, or you may not have permission to post messages to the group.",
        reason: "rejected",
      },
    ],
    [
      "Workspace",
      googleworkspace,
      input(workspace, failed("friend@example.jp")),
      {
        recipient: "friend@example.jp",
        diagnostic:
          "** Message not delivered ** You're sending this from a different address or alias using the 'Send mail as' feature. The settings for your 'Send mail as' account are misconfigured or out of date. Check those settings and try resending. The response was: Unspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH capability",
      },
    ],
  ])("reads %s", (_name, reader, given, expected) => {
    expect(reader.read(given)).toEqual([expected]);
  });
});
