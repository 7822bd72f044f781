import { acceptMessage } from "./accept.ts";
import { optOutKey, senderKey } from "../core/sms/account.ts";
import { accountRuntime } from "../state/config-read.ts";
import { moKeyword, type Keyword } from "../core/sms/keywords.ts";
import type { InboundSms } from "../state/account.ts";
import { emitEvents } from "../state/emit.ts";
import { accountStub, recipientStub } from "../state/stubs.ts";

export type MoInput = { id: string; route: string; provider: string; from: string; to: string; body: string; receivedAt: string };
export type MoResult = { outcome: "recorded" | "duplicate"; keyword: Keyword | null; replyId?: string };

/** SMSCs write international numbers without the `+`; our recipients are E.164. */
function e164(address: string): string | null {
  const digits = address.trim().replace(/^\+/, "");
  return /^[1-9]\d{6,14}$/.test(digits) ? `+${digits}` : null;
}

/**
 * One MO message, from either door (the bridge's SMPP binds or a REST provider's webhook).
 * Opt-out keywords act on the pair (this handset, the number it texted): STOP suppresses and
 * confirms, START lifts and confirms, HELP answers with the account's help text. Every step
 * is idempotent (the reply's idempotency key is the MO's id), so a redelivered MO after a
 * crash finishes what the first delivery started and replies once.
 */
export async function ingestMo(env: Env, account: string, mo: MoInput, options: { keywords?: boolean } = {}): Promise<MoResult> {
  const config = (await accountRuntime(env, account)).sections.sms;
  // One part of a concatenated MO is not the whole text: its "STOP" may end a longer sentence.
  const keyword = config && options.keywords !== false ? moKeyword(mo.body, config.keywords) : null;
  const inbox = accountStub(env, account);
  if (await inbox.inboundSeen(mo.id)) return { outcome: "duplicate", keyword };

  const handset = e164(mo.from);
  // The reply comes from the sender the account owns, spelt as configured.
  const ours = config?.senders.find((s) => senderKey(s) === senderKey(mo.to)) ?? mo.to;
  let replyId: string | undefined;
  if (config && keyword && handset) {
    const key = optOutKey(handset, ours);
    const pair = recipientStub(env, account, "sms", key);
    const target = { account, channel: "sms" as const, recipientKey: key, recipient: key };
    if (keyword === "stop") await pair.suppress({ ...target, reason: "sms_stop", at: mo.receivedAt, sourceEventId: mo.id }, true);
    if (keyword === "start") await pair.unsuppress(target);
    const reply = await acceptMessage(
      env,
      account,
      { channel: "sms", to: handset, from: ours, body: config.replies[keyword], metadata: { inReplyTo: mo.id, keyword } },
      // START's confirmation needs no bypass: the opt-out is gone. STOP's and HELP's reach an opted-out handset.
      { idempotencyKey: `mo-reply:${mo.id}`, bypassSuppression: keyword !== "start" },
    );
    replyId = reply.body.id;
  }
  const entry: InboundSms = { ...mo, keyword, replyId: replyId ?? null };
  // Emitted before the inbox records it: a retry after a crash emits the same id again, never nothing.
  await emitEvents(env, account, [{ type: "sms.inbound", timestamp: new Date().toISOString(), data: entry }]);
  const fresh = await inbox.recordInbound(entry);
  return { outcome: fresh ? "recorded" : "duplicate", keyword, ...(replyId ? { replyId } : {}) };
}
