/**
 * One email as a hosted provider's send API takes it. Composed once, by the code that composes
 * for the relay: providers that take raw MIME (SES `Raw`, Mailgun `messages.mime`) get `raw`,
 * the same bytes the relay would send; the others get the send's fields and `headers`, the
 * header fields lasthop adds (List-Unsubscribe, Feedback-ID, X-Lasthop-Message-Id) followed by
 * the send's own, so nothing the relay would carry is lost.
 */
import type { EmailSend } from "../schema.ts";

export type EspMessage = {
  /** lasthop's message id: sent as `lasthop_id` (custom args, tags, user variable, metadata) and as the idempotency key where one is taken. */
  id: string;
  account: string;
  request: EmailSend;
  /** The RFC 5322 message the relay would send, CRLF line ends. */
  raw: string;
  /** Header fields beyond From/To/Subject/Reply-To/Date/Message-ID, in the order the relay writes them. */
  headers: Record<string, string>;
};
