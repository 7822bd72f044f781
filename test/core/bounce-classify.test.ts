// The classifier on its own: facts as a report gives them → {class, reason}. Rows are real
// server replies (the MTA that writes them in the comment).
import { describe, expect, it } from "vitest";
import { classifyBounce, classOf, normalizeText, type BounceFacts } from "../../src/core/bounce/classify.ts";
import { bestEnhancedCode, commandIn, enhancedCodesIn, replyCodeIn } from "../../src/core/bounce/codes.ts";
import { statusReason } from "../../src/core/smtp.ts";

const failed = (diagnostic: string, more: Partial<BounceFacts> = {}): BounceFacts => {
  const smtpCode = replyCodeIn(diagnostic);
  const enhancedCode = bestEnhancedCode(more.enhancedCode, enhancedCodesIn(diagnostic), smtpCode);
  return { action: "failed", diagnostic, ...(smtpCode ? { smtpCode } : {}), ...more, ...(enhancedCode ? { enhancedCode } : {}) };
};

describe("classifyBounce", () => {
  it.each([
    // [diagnostic, command, reason, class]
    ["550 5.1.1 <a@example.jp>: Recipient address rejected: User unknown in local recipient table", "RCPT", "userunknown", "hard"], // Postfix
    [
      "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address",
      "RCPT",
      "userunknown",
      "hard",
    ], // Gmail
    ["550 5.7.1 <a@example.jp>... User unknown", "RCPT", "userunknown", "hard"], // a server whose code lies
    ["550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", undefined, "userunknown", "hard"], // Exchange
    ["552 5.2.2 <a@example.jp>... Mailbox Full", "RCPT", "mailboxfull", "soft"], // Sendmail
    ["550 5.1.1 <a@example.jp>: user is over quota", "RCPT", "mailboxfull", "soft"], // a full mailbox sent as 5.1.1
    ["452 4.2.2 The email account that you tried to reach is over quota", "RCPT", "mailboxfull", "soft"], // Gmail
    ["554 5.7.1 <a@example.org>: Relay access denied", "RCPT", "norelaying", "soft"], // Postfix
    ["552 5.3.4 Message too large", "DATA", "mesgtoobig", "soft"], // Amazon SES
    ["552 5.2.3 Message size exceeds fixed maximum message size (10485760)", "MAIL", "exceedlimit", "soft"], // Sendmail
    ["554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "RCPT", "blocked", "soft"], // Postfix RBL
    ["550 5.7.606 Access denied, banned sending IP [192.0.2.1]", "DATA", "blocked", "soft"], // Exchange Online
    ["550 5.7.1 Message rejected as spam by Content Filtering", "DATA", "spamdetected", "soft"], // Exchange
    [
      "550 5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending domain",
      "DATA",
      "badreputation",
      "soft",
    ], // Gmail
    ["550 Host unknown", undefined, "hostunknown", "hard"], // Sendmail
    ["Host or domain name not found. Name service error for name=example.invalid type=A: Host not found", undefined, "hostunknown", "hard"], // Postfix
    ["550 5.2.1 The email account that you tried to reach is disabled.", "RCPT", "suspend", "soft"], // Gmail
    ["550 5.7.26 Unauthenticated email from example.jp is not accepted due to domain's DMARC policy", "DATA", "authfailure", "soft"], // Gmail
    ["550 5.7.25 Reverse DNS validation failed", "RCPT", "requireptr", "soft"], // RFC 7372
    ["554 5.4.6 Hop count exceeded - possible mail loop", "DATA", "networkerror", "soft"], // many
    ["421 4.7.0 Try again later, closing connection. (TLS required for RCPT domain)", undefined, "failedstarttls", "soft"], // Gmail
    ["554 5.7.0 Header error", "DATA", "policyviolation", "soft"], // Sendmail milter
    ["550 5.7.1 Virus Detected; Content Rejected", "DATA", "virusdetected", "soft"], // amavisd
    ["501 5.1.8 Sender address rejected", "MAIL", "rejected", "soft"], // Sendmail
    ["504 Command parameter not implemented", "DATA", "syntaxerror", "soft"], // NTT docomo
  ] as const)("%s (%s) → %s/%s", (diagnostic, command, reason, klass) => {
    expect(classifyBounce(failed(diagnostic, command ? { command } : {}))).toMatchObject({ class: klass, reason });
  });

  it("'user unknown' after the content was sent, or when nobody says when, is a filter's refusal, not a dead address", () => {
    // Sisimai's reading: an MTA that accepted RCPT TO knew the mailbox; "unknown" at DATA is a content filter.
    expect(classifyBounce(failed("550 Unknown user kijitora@example.jp", { command: "DATA" }))).toMatchObject({
      class: "soft",
      reason: "filtered",
    });
    expect(classifyBounce(failed("550 kijitora@example.com... No such user"))).toMatchObject({ class: "soft", reason: "filtered" });
    expect(classifyBounce(failed("550 kijitora@example.com... No such user", { command: "RCPT" }))).toMatchObject({
      class: "hard",
      reason: "userunknown",
    });
  });

  it("null MX (RFC 7505) is hard only when the failure is permanent", () => {
    expect(classifyBounce(failed("556 5.1.10 Recipient address has null MX"))).toMatchObject({ class: "hard", reason: "notaccept" });
    expect(
      classifyBounce({
        action: "failed",
        enhancedCode: "4.0.0",
        diagnostic: "DNS Error: The domain doesn't receive email: returned Null MX",
      }),
    ).toMatchObject({ class: "soft", reason: "notaccept" });
  });

  it("providers' own codes: Orange/La Poste labels, NTT docomo answers by command", () => {
    expect(
      classifyBounce(
        failed("550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416", {
          command: "DATA",
          hosts: ["smtpz4.laposte.net"],
        }),
      ),
    ).toMatchObject({ class: "hard", reason: "userunknown", rule: "provider:laposte.net" });
    expect(
      classifyBounce(failed("421 4.2.0 Service refuse. Veuillez essayer plus tard. OFR005_505 [505]", { hosts: ["smtp-in.orange.fr"] })),
    ).toMatchObject({ class: "soft", reason: "systemerror" });
    const docomo = { hosts: ["mfsmax.docomo.ne.jp"], enhancedCode: "5.0.0" } as const;
    expect(classifyBounce(failed("550 Unknown user a@docomo.ne.jp", { ...docomo, command: "RCPT" }))).toMatchObject({
      class: "hard",
      reason: "userunknown",
    });
    expect(classifyBounce(failed("550 Unknown user a@docomo.ne.jp", { ...docomo, command: "DATA" }))).toMatchObject({
      class: "soft",
      reason: "rejected",
    });
  });

  it("the reporting MTA's own words win when they name a final reason; a delay with nothing said is expired", () => {
    expect(classifyBounce({ action: "failed", enhancedCode: "5.0.0", diagnostic: "550 user unknown", hint: "suspend" })).toMatchObject({
      class: "soft",
      reason: "suspend",
    });
    expect(classifyBounce({ action: "delayed" })).toMatchObject({ class: "soft", reason: "expired" });
    expect(classifyBounce({ action: "failed" })).toMatchObject({ class: "soft", reason: "undefined" });
    expect(classifyBounce({ action: "failed", diagnostic: "something went wrong" })).toMatchObject({ class: "soft", reason: "onhold" });
  });

  it("delivered, relayed, expanded and 2.x.x are not bounces", () => {
    for (const action of ["delivered", "relayed", "expanded"] as const)
      expect(classifyBounce({ action })).toMatchObject({ class: "undetermined", reason: "delivered" });
    expect(classifyBounce({ action: "failed", enhancedCode: "2.1.5" })).toMatchObject({ class: "undetermined", reason: "delivered" });
  });
});

describe("the hard rule (Sisimai's)", () => {
  it.each([
    ["userunknown", true, "hard"],
    ["hostunknown", true, "hard"],
    ["hasmoved", true, "hard"],
    ["notaccept", true, "hard"],
    ["notaccept", false, "soft"],
    ["mailboxfull", true, "soft"],
    ["filtered", true, "soft"],
    ["undefined", true, "soft"],
    ["onhold", true, "soft"],
    ["feedback", true, "undetermined"],
    ["vacation", true, "undetermined"],
  ] as const)("%s (permanent %s) → %s", (reason, permanent, klass) => {
    expect(classOf(reason, permanent)).toBe(klass);
  });
});

describe("SMTP facts in text", () => {
  it.each([
    ["host mx.example.jp[192.0.2.2] said: 550-5.2.1 The user ... 550 5.2.1 https://support.google.com", 550, ["5.2.1", "5.2.1"]],
    ["Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)", undefined, ["5.4.4"]],
    ["Remote Server at mx (10.1.1.3) returned '441 4.4.1 Error ... Winsock error code: 10060'", 441, ["4.4.1"]],
    ["Received: from [192.0.2.222] by mx.example.jp (8.14.4/8.14.4) with ESMTP id 4.8.5", undefined, []],
    ["Resources temporarily unavailable, please try again later [#4.1.9].", undefined, ["4.1.9"]],
    ["550 5.1.351 Remote server returned unknown recipient", 550, ["5.1.351"]],
  ])("%s", (text, reply, codes) => {
    expect(replyCodeIn(text)).toBe(reply);
    expect(enhancedCodesIn(text)).toEqual(codes);
  });

  it.each([
    [undefined, ["5.1.0", "5.7.1"], 550, "5.7.1"], // "5.1.0 - Unknown address error 550-'5.7.1 ... Access denied'" (Amazon SES)
    ["5.0.0", ["5.7.1"], 554, "5.7.1"], // Status: 5.0.0 next to the remote server's 5.7.1
    ["4.4.7", [], 554, "4.4.7"], // "554 4.4.7 Message expired" keeps its Status when the text has no 5.x.x
    ["5.1.1", ["5.2.2"], 552, "5.2.2"], // a full mailbox reported as 5.1.1
    ["5.2.1", ["5.2.1"], 550, "5.2.1"],
    ["5.1.1", ["5.0.0"], 550, "5.1.1"],
  ])("best code: Status %s, text %j, reply %s → %s", (status, codes, reply, best) => {
    expect(bestEnhancedCode(status, codes, reply)).toBe(best);
  });

  it.each([
    ["<a@example.jp>: host mx[192.0.2.1] said: 550 5.1.1 unknown (in reply to RCPT TO\n    command)", "RCPT"],
    ["SMTP error from remote mail server after end of data:", "DATA"],
    ["... while talking to mx.example.jp.:\n>>> MAIL From:<s@example.jp> SIZE=1234\n<<< 552 5.2.3 too big", "MAIL"],
    ["mx.example.jp [192.0.2.25] did not like our RCPT TO:", "RCPT"],
    ["Remote host said: 550 5.1.1 <a@example.jp>... User Unknown [RCPT_TO]", "RCPT"],
    ["192.0.2.25 does not like recipient.", "RCPT"],
    ["550 550 Unknown user a@example.jp (state 18).", "DATA"],
    ["Message details:\n  RCPT TO: a@example.jp", undefined], // a summary, not the refused command
  ])("command in %j → %s", (text, command) => {
    expect(commandIn(text)).toBe(command);
  });

  it("joins a multi-line reply back into one sentence", () => {
    expect(
      normalizeText("550-5.2.1 The user you are trying to contact is receiving mail at a rate that 550-5.2.1 prevents additional messages"),
    ).toBe("550-5.2.1 the user you are trying to contact is receiving mail at a rate that prevents additional messages");
  });
});

describe("statusReason (smtp.ts, RFC 3463 codes)", () => {
  it.each([
    ["5.1.1", "userunknown"],
    ["5.1.2", "hostunknown"],
    ["5.1.6", "hasmoved"],
    ["5.1.10", "notaccept"],
    ["5.2.2", "mailboxfull"],
    ["4.2.2", "mailboxfull"],
    ["5.2.1", "filtered"],
    ["4.2.1", "blocked"],
    ["5.3.4", "mesgtoobig"],
    ["4.4.7", "expired"],
    ["5.7.1", "securityerror"],
    ["5.7.26", "authfailure"],
    ["5.0.0", undefined],
    [undefined, undefined],
  ] as const)("%s → %s", (code, reason) => {
    expect(statusReason(code)).toBe(reason);
  });
});
