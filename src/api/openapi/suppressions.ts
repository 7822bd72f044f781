/** `/v1/suppressions` (src/api/suppressions.ts): the account's suppression list; `/v1/recipients` (recipients.ts): erasure. */
import { z } from "zod";
import { suppressionCheckRequest, suppressionListQuery } from "../../core/api-requests.ts";
import { erasureResult, suppressionCheckResponse, suppressionEntry, suppressionPage } from "../../core/api-responses.ts";
import { channelParam } from "../../core/schema.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const entry = suppressionEntry.meta({ id: "Suppression" });
const target = z.object({
  channel: channelParam,
  recipient: z
    .string()
    .describe(
      "an address or E.164 number (URL-encoded), or the SHA-256 hex of a push token or endpoint; an SMS opt-out is `<handset>:<sender>`",
    ),
});

export const suppressionRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/v1/suppressions/check",
    tag: "Suppressions",
    summary: "Which of up to 1,000 recipients are suppressed",
    description: "For a team that sends elsewhere and filters its list first. A read: the `read` scope is enough.",
    auth: "apiKey",
    body: suppressionCheckRequest,
    responses: { 200: { description: "one row per recipient, in order", schema: suppressionCheckResponse } },
    errors: JSON_BODY_ERRORS,
  },
  {
    method: "get",
    path: "/v1/suppressions",
    tag: "Suppressions",
    summary: "List suppressions",
    auth: "apiKey",
    query: suppressionListQuery,
    responses: { 200: { description: "a page", schema: suppressionPage } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/suppressions/{channel}/{recipient}",
    tag: "Suppressions",
    summary: "One recipient's suppression",
    auth: "apiKey",
    params: target,
    responses: { 200: { description: "suppressed: why and since when", schema: entry } },
    errors: [400, 404],
  },
  {
    method: "put",
    path: "/v1/suppressions/{channel}/{recipient}",
    tag: "Suppressions",
    summary: "Suppress a recipient (reason manual)",
    auth: "apiKey",
    params: target,
    responses: { 200: { description: "the entry", schema: entry } },
    errors: [400, 404],
  },
  {
    method: "delete",
    path: "/v1/suppressions/{channel}/{recipient}",
    tag: "Suppressions",
    summary: "Lift a suppression",
    auth: "apiKey",
    params: target,
    responses: { 204: { description: "lifted" } },
    errors: [400, 404],
  },
  {
    method: "delete",
    path: "/v1/recipients/{channel}/{recipient}",
    tag: "Suppressions",
    summary: "Erase a recipient's personal data",
    description:
      "Their messages go whole (row, timeline, body, search row), with the event-stream deliveries that named them and, for a number, its MO messages. A suppression stays under `sha256:<hex of the key>` only, so the recipient is still never sent to; the audit log records `recipient.erase` by that hash. At most 500 messages a request: `done: false` means call again (it is safe to repeat).",
    auth: "apiKey",
    params: target,
    responses: { 200: { description: "what was erased", schema: erasureResult } },
    errors: [400, 404],
  },
];
