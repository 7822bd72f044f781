/** `/v1/webhook-endpoints` (src/api/webhook-endpoints.ts): where the account's events go. */
import { z } from "zod";
import { attemptsQuery, recoverRequest } from "../../core/api-requests.ts";
import {
  attemptPage,
  endpointInfo,
  endpointList,
  endpointRecoverResponse,
  endpointResendResponse,
  endpointTestResponse,
  endpointWithSecret,
} from "../../core/api-responses.ts";
import { endpointCreate, endpointPatch } from "../../core/webhook-endpoint.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const endpoint = endpointInfo.meta({ id: "WebhookEndpoint" });
const withSecret = endpointWithSecret.meta({ id: "WebhookEndpointWithSecret" });
const id = z.string().describe("the endpoint id (`ep_…`)");
const params = z.object({ id });
const URL_RULE = "URLs are https, never to a private, loopback, link-local or metadata address (422), except the deployment's dev hosts.";

export const webhookEndpointRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/v1/webhook-endpoints",
    tag: "Webhook endpoints",
    summary: "List webhook endpoints",
    auth: "apiKey",
    responses: { 200: { description: "the endpoints", schema: endpointList } },
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints",
    tag: "Webhook endpoints",
    summary: "Add a webhook endpoint",
    description: `${URL_RULE} The signing secret is in this answer and never again (rotate to get a new one).`,
    auth: "apiKey",
    body: endpointCreate,
    responses: { 201: { description: "the endpoint and its secret", schema: withSecret } },
    errors: [...JSON_BODY_ERRORS, 404, 422],
  },
  {
    method: "get",
    path: "/v1/webhook-endpoints/{id}",
    tag: "Webhook endpoints",
    summary: "A webhook endpoint",
    auth: "apiKey",
    params,
    responses: { 200: { description: "the endpoint", schema: endpoint } },
    errors: [404],
  },
  {
    method: "patch",
    path: "/v1/webhook-endpoints/{id}",
    tag: "Webhook endpoints",
    summary: "Change a webhook endpoint",
    description: `null clears a filter or the rate limit; \`enabled: true\` re-enables one that was disabled. ${URL_RULE}`,
    auth: "apiKey",
    params,
    body: endpointPatch,
    responses: { 200: { description: "the endpoint", schema: endpoint } },
    errors: [...JSON_BODY_ERRORS, 404, 422],
  },
  {
    method: "delete",
    path: "/v1/webhook-endpoints/{id}",
    tag: "Webhook endpoints",
    summary: "Delete a webhook endpoint and its deliveries",
    auth: "apiKey",
    params,
    responses: { 204: { description: "deleted" } },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints/{id}/rotate-secret",
    tag: "Webhook endpoints",
    summary: "Rotate the signing secret",
    description: "The old secret keeps signing alongside the new one for a while, so receivers can switch.",
    auth: "apiKey",
    params,
    responses: { 200: { description: "the endpoint and its new secret", schema: withSecret } },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints/{id}/test",
    tag: "Webhook endpoints",
    summary: "Send a `test` event now",
    auth: "apiKey",
    params,
    responses: { 200: { description: "the attempt", schema: endpointTestResponse } },
    errors: [404],
  },
  {
    method: "get",
    path: "/v1/webhook-endpoints/{id}/attempts",
    tag: "Webhook endpoints",
    summary: "Delivery attempts, newest first",
    auth: "apiKey",
    params,
    query: attemptsQuery,
    responses: { 200: { description: "a page", schema: attemptPage } },
    errors: [400, 404],
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints/{id}/recover",
    tag: "Webhook endpoints",
    summary: "Send again every failed delivery of a window",
    auth: "apiKey",
    params,
    body: recoverRequest,
    responses: { 202: { description: "scheduled", schema: endpointRecoverResponse } },
    errors: [...JSON_BODY_ERRORS, 404],
  },
  {
    method: "post",
    path: "/v1/webhook-endpoints/{id}/events/{eventId}/resend",
    tag: "Webhook endpoints",
    summary: "Send one event again",
    auth: "apiKey",
    params: z.object({ id, eventId: z.string().describe("the event id (`webhook-id`)") }),
    responses: { 202: { description: "scheduled", schema: endpointResendResponse } },
    errors: [404],
  },
];
