/** `/v1/messages` (src/api/messages.ts, accept.ts): send, send many, search, read, and each message's webhook deliveries. */
import { z } from "zod";
import { idempotencyKey } from "../../core/api-requests.ts";
import {
  batchCancelResponse,
  batchResponse,
  messageDeliveries,
  messageSearchPage,
  messageView,
  sendAccepted,
} from "../../core/api-responses.ts";
import { messageSearchQuery } from "../../core/message-search.ts";
import { BATCH_MAX, batchRequest, sendRequest } from "../../core/schema.ts";
import { emailTemplateSend } from "../../core/template.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

// An email send names subject/text/html, or a stored template and the recipient's variables (core/template.ts).
const send = z.union([sendRequest, emailTemplateSend.meta({ id: "EmailTemplateSend" })]).meta({ id: "SendRequest" });
const accepted = sendAccepted.meta({ id: "SendAccepted" });
const message = messageView.meta({ id: "Message" });

const idempotency = z.object({
  "idempotency-key": idempotencyKey
    .optional()
    .describe("the same key and body answer the same message (200); the same key with another body is 409"),
});
const messageId = z.object({ id: z.string().describe("the message id (a UUID)") });

export const messageRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/v1/messages",
    tag: "Messages",
    summary: "Send one message",
    description:
      "Validates the send for its channel, checks the account can act on it (422 otherwise), and queues it; with `sendAt` ahead (at most 72 h) it is `scheduled` until then, and can be canceled. `accepted` later means the next hop took custody; only feedback says `delivered`. The body may be up to 1.75 MiB for an email (attachments: at most 10, 1 MiB decoded together), 256 KiB for the other channels (413 beyond).",
    auth: "apiKey",
    headers: idempotency,
    body: send,
    responses: {
      202: { description: "queued (or suppressed: `status` says so, with `reason`)", schema: accepted },
      200: { description: "replayed: this Idempotency-Key already made this message", schema: accepted },
    },
    errors: [...JSON_BODY_ERRORS, 409, 422],
  },
  {
    method: "post",
    path: "/v1/messages/batch",
    tag: "Messages",
    summary: "Send up to 1,000 messages",
    description:
      "Each item is a send request, accepted on its own: the answer holds one result or one error per item, in order, and the `batchId` that cancels the batch's scheduled messages. The batch's `sendAt` applies to every item that gives none. With an Idempotency-Key, item `i` uses `<key>:<i>`. The body may be up to 1.75 MiB (email items may carry attachments).",
    auth: "apiKey",
    headers: idempotency,
    body: batchRequest.extend({ messages: z.array(send).min(1).max(BATCH_MAX) }),
    responses: { 202: { description: "one result per item", schema: batchResponse } },
    errors: JSON_BODY_ERRORS,
  },
  {
    method: "post",
    path: "/v1/messages/{id}/cancel",
    tag: "Messages",
    summary: "Cancel a scheduled message",
    description:
      "A message still `scheduled` ends `canceled` (in its timeline, and `message.canceled` on the event stream). A second cancel answers the same. A message that went already is 409 `not_cancelable`, its status in `details`.",
    auth: "apiKey",
    params: messageId,
    responses: { 200: { description: "the canceled message", schema: message } },
    errors: [404, 409],
  },
  {
    method: "post",
    path: "/v1/messages/batches/{batchId}/cancel",
    tag: "Messages",
    summary: "Cancel a batch's scheduled messages",
    description:
      "Cancels every message of the batch that is still `scheduled`; the others are counted as `notCancelable`. Safe to repeat. A batch is known for 7 days.",
    auth: "apiKey",
    params: z.object({ batchId: z.string().describe("the batchId POST /v1/messages/batch answered") }),
    responses: { 200: { description: "what the cancel did", schema: batchCancelResponse } },
    errors: [404],
  },
  {
    method: "get",
    path: "/v1/messages",
    tag: "Messages",
    summary: "Search messages",
    description: "The account's messages newest first, filtered, a page at a time.",
    auth: "apiKey",
    query: messageSearchQuery,
    responses: { 200: { description: "a page", schema: messageSearchPage } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/messages/{id}",
    tag: "Messages",
    summary: "A message and its timeline",
    auth: "apiKey",
    params: messageId,
    responses: { 200: { description: "the message", schema: message } },
    errors: [404],
  },
  {
    method: "get",
    path: "/v1/messages/{id}/deliveries",
    tag: "Messages",
    summary: "The message's events at each webhook endpoint",
    auth: "apiKey",
    params: messageId,
    responses: { 200: { description: "deliveries with their attempts", schema: messageDeliveries } },
    errors: [404],
  },
];
