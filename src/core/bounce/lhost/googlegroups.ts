/**
 * Google Groups (https://groups.google.com): a post to a group that refuses it comes back from
 * "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", Subject "Delivery Status
 * Notification (Failure)", with X-Failed-Recipients naming the group's address. The text says
 * "We're writing to let you know that the group you tried to contact (<name>) may not exist,
 * or you may not have permission to post messages to the group." and lists the likely causes
 * as " * " bullets (four of them when the post was refused: rejected). There is no reply and
 * no SMTP command. Markers after Sisimai::Lhost::GoogleGroups, BSD 2-Clause.
 */
import { addressesIn } from "../address.ts";
import type { Lhost } from "./types.ts";

const GROUP = /the group you tried to contact \([^)]*\) may not exist, or you may not have permission to post/i;

export const googlegroups: Lhost = {
  name: "GoogleGroups",
  detect: (input) => /mailer-daemon@google(?:mail)?\.com/i.test(input.from) && GROUP.test(input.report.replace(/\s+/g, " ")),
  read: (input) => {
    const flat = input.report.replace(/\s+/g, " ");
    const sentence = /We're writing to let you know that the group you tried to contact[^.]*\.(?:[^.]*to the group\.)?/i.exec(flat)?.[0];
    const bullets = (input.report.match(/^ ?\* ?\S/gm) ?? []).length;
    const failed = (input.headers.get("x-failed-recipients") ?? []).flatMap((v) => addressesIn(v));
    return failed.map((recipient) => ({
      recipient,
      diagnostic: (sentence ?? "").trim(),
      ...(bullets === 4 ? { reason: "rejected" } : {}),
    }));
  },
};
