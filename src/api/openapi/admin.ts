/** `/v1/admin` (src/api/admin.ts): the platform admin's accounts. */
import { z } from "zod";
import { accountListQuery, createAccountRequest, patchAccountRequest } from "../../core/api-requests.ts";
import { accountCreated, accountInfo, accountList, meterResponse } from "../../core/api-responses.ts";
import { JSON_BODY_ERRORS, type ApiRoute } from "./registry.ts";

const account = accountInfo.meta({ id: "Account" });
const params = z.object({ id: z.string().describe("the account id (`acct_…`)") });

export const adminRoutes: ApiRoute[] = [
  {
    method: "post",
    path: "/v1/admin/accounts",
    tag: "Admin",
    summary: "Create an account",
    description: "The account comes with one API key holding every scope, shown in this answer only.",
    auth: "adminKey",
    body: createAccountRequest,
    responses: { 201: { description: "the account and its first key", schema: accountCreated } },
    errors: JSON_BODY_ERRORS,
  },
  {
    method: "get",
    path: "/v1/admin/accounts",
    tag: "Admin",
    summary: "List accounts",
    auth: "adminKey",
    query: accountListQuery,
    responses: { 200: { description: "a page", schema: accountList } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/admin/accounts/{id}",
    tag: "Admin",
    summary: "An account",
    auth: "adminKey",
    params,
    responses: { 200: { description: "the account", schema: account } },
    errors: [404],
  },
  {
    method: "patch",
    path: "/v1/admin/accounts/{id}",
    tag: "Admin",
    summary: "Rename, disable or re-enable an account",
    description: "A disabled account's keys answer 403 account_disabled.",
    auth: "adminKey",
    params,
    body: patchAccountRequest,
    responses: { 200: { description: "the account", schema: account } },
    errors: [...JSON_BODY_ERRORS, 404],
  },
  {
    method: "get",
    path: "/v1/admin/meter",
    tag: "Admin",
    summary: "Cost instrumentation counts",
    description:
      'What the platform bills, counted as the code runs (DO requests, Queue operations, subrequests, SQLite rows, Worker invocations), for the cost-per-message figure of `npm run bench`. Only where `METER` is "1" (the bench\'s stack); 404 `meter_off` elsewhere.',
    auth: "adminKey",
    responses: { 200: { description: "the counts", schema: meterResponse } },
    errors: [404],
  },
];
