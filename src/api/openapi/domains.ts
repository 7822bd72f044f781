/** `/v1/domains` (src/api/domains.ts): the account's sending domains, their DKIM keys and DNS records. */
import { z } from "zod";
import { domainList, domainView } from "../../core/api-responses.ts";
import { createDomainRequest } from "../../core/domains.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const domain = domainView.meta({ id: "Domain" });
const params = z.object({ domain: z.string().describe("the domain name") });

export const domainRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/v1/domains",
    tag: "Domains",
    summary: "List sending domains",
    auth: "apiKey",
    responses: { 200: { description: "the domains", schema: domainList } },
  },
  {
    method: "post",
    path: "/v1/domains",
    tag: "Domains",
    summary: "Add a sending domain",
    description: "Makes its DKIM key pairs (RSA-2048 and Ed25519) and answers the DNS records to publish.",
    auth: "apiKey",
    body: createDomainRequest,
    responses: { 201: { description: "the domain, pending, with its records", schema: domain } },
    errors: [...JSON_BODY_ERRORS, 404, 409, 422],
  },
  {
    method: "get",
    path: "/v1/domains/{domain}",
    tag: "Domains",
    summary: "A sending domain",
    auth: "apiKey",
    params,
    responses: { 200: { description: "the domain", schema: domain } },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/domains/{domain}/verify",
    tag: "Domains",
    summary: "Check the domain's DNS records",
    description: "Looks them up over DNS-over-HTTPS; once every required record is in place the domain is verified.",
    auth: "apiKey",
    params,
    responses: { 200: { description: "the domain with each record's status", schema: domain } },
    errors: [404],
  },
  {
    method: "delete",
    path: "/v1/domains/{domain}",
    tag: "Domains",
    summary: "Delete a sending domain",
    auth: "apiKey",
    params,
    responses: { 204: { description: "deleted" } },
    errors: [404],
  },
];
