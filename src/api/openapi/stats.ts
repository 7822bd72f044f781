/** `GET /v1/stats` (src/api/stats.ts), `GET /v1/routes` (route-status.ts), `GET /v1/email/pools` (pools.ts), `GET /v1/bridge/health` (bridge-health.ts), `GET /v1/sms/inbound` (sms.ts), `GET /v1/audit` (audit.ts). */
import { auditQuery, inboundListQuery, statsQuery } from "../../core/api-requests.ts";
import {
  auditPage,
  bridgeHealthResponse,
  inboundSmsPage,
  poolsResponse,
  routeStatusResponse,
  statsResponse,
} from "../../core/api-responses.ts";
import type { ApiRoute } from "./registry.ts";

export const readRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/v1/stats",
    tag: "Stats",
    summary: "Hourly counts per channel, outcome and route",
    description: "Between `from` and `to` (default: the last 24 hours). `none/unlinked` counts events that linked to no message.",
    auth: "apiKey",
    query: statsQuery,
    responses: { 200: { description: "the buckets", schema: statsResponse } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/routes",
    tag: "Stats",
    summary: "Email and SMS routes with their circuits",
    description:
      "In the order they are tried, each with its circuit (`closed`, `open` since `openedAt`, or `half_open` while one probe is out). A route with nowhere to fail over to keeps no circuit and reads closed.",
    auth: "apiKey",
    responses: { 200: { description: "the routes", schema: routeStatusResponse } },
  },
  {
    method: "get",
    path: "/v1/email/pools",
    tag: "Stats",
    summary: "IP pools: warm-up, counters and destination rates",
    description:
      "Each pool of the `delivery` settings and `default` (the bridge's own address): each address's warm-up cap and counts of the UTC day (sent, deferred, bounced, complaints), and each destination's rate in force (lower after throttling replies, recovering each quiet minute). An account without delivery settings has none.",
    auth: "apiKey",
    responses: { 200: { description: "the pools", schema: poolsResponse } },
  },
  {
    method: "get",
    path: "/v1/bridge/health",
    tag: "Stats",
    summary: "The bridge's health, in totals",
    description:
      "APNs sessions, SMTP connections, SMPP binds up and batches in flight of the bridge this deployment sends through; totals only, since the bridge is shared by every account. `configured: false` when there is no bridge, `reachable: false` with the error when it did not answer within 3 s.",
    auth: "apiKey",
    responses: { 200: { description: "the bridge's state", schema: bridgeHealthResponse } },
  },
  {
    method: "get",
    path: "/v1/sms/inbound",
    tag: "SMS",
    summary: "Inbound SMS (MO), newest first",
    auth: "apiKey",
    query: inboundListQuery,
    responses: { 200: { description: "a page", schema: inboundSmsPage } },
    errors: [400],
  },
  {
    method: "get",
    path: "/v1/audit",
    tag: "Configuration",
    summary: "The audit log",
    description: "Every configuration change of the account, newest first, secrets masked.",
    auth: "apiKey",
    query: auditQuery,
    responses: { 200: { description: "a page", schema: auditPage } },
    errors: [400],
  },
];
