/**
 * A reader of one MTA family's bounces ("lhost" in Sisimai's words: the local host that wrote
 * the report). Each knows how to recognise its MTA's reports and where that MTA writes, for
 * each failed recipient, the diagnostic, the SMTP command, the status and its own reason.
 * Readers are data first (block.ts turns a format description into a reader) and pure.
 */
import type { Headers } from "../headers.ts";
import type { SmtpCommand } from "../types.ts";

export type LhostInput = {
  headers: Headers;
  /** The report's Subject and From, as sent. */
  subject: string;
  from: string;
  /** The report's own text (report.ts reportText: line breaks normalised, the returned message cut off). */
  report: string;
};

/** What one MTA writes about one failed recipient. */
export type LhostRecipient = {
  recipient: string;
  /** The remote server's reply, or the MTA's own diagnosis, as written. */
  diagnostic: string;
  command?: SmtpCommand;
  /** An RFC 3463 code the MTA states for this recipient. */
  status?: string;
  /** A reason the MTA's own wording states (Sisimai's vocabulary: userunknown, hostunknown, …). */
  reason?: string;
  /** The remote host it was talking to. */
  remoteMta?: string;
  /** `delayed` for a warning that the MTA is still trying. */
  action?: "failed" | "delayed";
};

export type Lhost = {
  /** Sisimai's module name (Courier, Domino, Exchange2003, …). */
  name: string;
  /** Whether the message is this MTA's report: cheap tests on the headers and the text. */
  detect(input: LhostInput): boolean;
  /** The recipients and what the MTA says about each; empty when the text does not hold the format after all. */
  read(input: LhostInput): LhostRecipient[];
};
