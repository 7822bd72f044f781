import type { AccountRuntime } from "../core/config/runtime.ts";
import type { SendRequest } from "../core/schema.ts";

/**
 * One send as the channel senders take it: the message id, its account and its request,
 * read from the MessageDO when the attempt began. `route`: an SMS pinned to the route that
 * may already have submitted it. `config`: the account's configuration as the consumer read it.
 */
export type SendJob = { id: string; account: string; createdAt: string; request: SendRequest; route?: string; config: AccountRuntime };

/** An SMS job, as sendSmsBatch routes it and each route's sender (SMPP via the bridge, REST) sends it. */
export type SmsJob = {
  id: string;
  account: string;
  request: Extract<SendRequest, { channel: "sms" }>;
  route?: string;
  config: AccountRuntime;
};
