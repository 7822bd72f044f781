/**
 * What one send attempt came to, as every channel sender reports it and the bridge answers
 * it per item. `accepted` is custody by the next hop, never delivery; `retry` is transient
 * (the queue tries again). One zod source: the edge validates the bridge's answers with it,
 * the MessageDO reads the fields below back with it, and every side's types come from it.
 */
import { z } from "zod";

/**
 * Whether a `retry` may have reached the next hop. Only "no" lets an SMS pass to another
 * route: a message is never submitted on two routes.
 */
export const submitted = z.enum(["no", "maybe"]);
export type Submitted = z.infer<typeof submitted>;

/**
 * The detail fields that code reads back (failover, route pinning, receipt matching); the
 * rest of `detail` is free-form for the timeline and passes through as is.
 */
export const outcomeDetail = z.looseObject({
  reason: z.string().optional(),
  providerMessageId: z.string().optional(),
  submitted: submitted.optional(),
  /**
   * The route that carried the message (SMS and email). The bridge names its SMPP route; the edge
   * replaces it with the account's route name and keeps the bridge's as `bridgeRoute`.
   */
  route: z.string().optional(),
  /** The route's type: smpp, rest, vonage (SMS); relay, sendgrid, ses, mailgun, postmark, resend (email). */
  routeType: z.string().optional(),
  bridgeRoute: z.string().optional(),
  /** SMPP: the SMSC's id of each submitted part, in part order and canonical form. */
  smscIds: z.array(z.string()).optional(),
});
export type OutcomeDetail = z.infer<typeof outcomeDetail>;

/** The outcome union, with `fields` beside `kind` (the bridge adds each item's `id`). */
export function outcomeWith<Fields extends z.ZodRawShape>(fields: Fields) {
  return z.discriminatedUnion("kind", [
    z.strictObject({ ...fields, kind: z.literal("accepted"), detail: outcomeDetail }),
    z.strictObject({ ...fields, kind: z.literal("bounced"), detail: outcomeDetail }),
    z.strictObject({ ...fields, kind: z.literal("failed"), detail: outcomeDetail }),
    /** `retryAfter`: seconds, when the next hop said how long to wait. */
    z.strictObject({ ...fields, kind: z.literal("retry"), retryAfter: z.number().optional(), detail: outcomeDetail }),
  ]);
}

export const sendOutcome = outcomeWith({});
export type SendOutcome = z.infer<typeof sendOutcome>;
