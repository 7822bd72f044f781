/** `/v1/api-keys` (src/api/api-keys.ts): the account's keys. */
import { z } from "zod";
import { keyCreated, keyList } from "../../core/api-responses.ts";
import { createKeyRequest } from "../../core/config/keys.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

export const apiKeyRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/v1/api-keys",
    tag: "API keys",
    summary: "List API keys",
    description: "Each key's prefix, scopes, rate and when it was created and last used; never the key.",
    auth: "apiKey",
    responses: { 200: { description: "the keys", schema: keyList } },
  },
  {
    method: "post",
    path: "/v1/api-keys",
    tag: "API keys",
    summary: "Make an API key",
    auth: "apiKey",
    body: createKeyRequest,
    responses: { 201: { description: "the key, in full: shown in this answer only", schema: keyCreated } },
    errors: [...JSON_BODY_ERRORS, 404],
  },
  {
    method: "delete",
    path: "/v1/api-keys/{id}",
    tag: "API keys",
    summary: "Revoke an API key",
    description: "It stops working in this isolate at once and everywhere within seconds.",
    auth: "apiKey",
    params: z.object({ id: z.string().describe("the key id (`key_…`)") }),
    responses: { 204: { description: "revoked" } },
    errors: [404],
  },
];
