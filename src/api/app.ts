import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { admin } from "./admin.ts";
import { apiKeys } from "./api-keys.ts";
import { audit } from "./audit.ts";
import { scoped } from "./auth.ts";
import { routeScopes } from "./scopes.ts";
import { limitBody } from "./body.ts";
import { docs } from "./docs.ts";
import { domains } from "./domains.ts";
import { ApiError, errorBody } from "../core/http.ts";
import { messages } from "./messages.ts";
import { recipients } from "./recipients.ts";
import { routeStatus } from "./route-status.ts";
import { sms } from "./sms.ts";
import { stats } from "./stats.ts";
import { suppressions } from "./suppressions.ts";
import { trackingRoutes } from "./tracking.ts";
import { templates } from "./templates.ts";
import { unsubscribeRoutes } from "./unsubscribe.tsx";
import { inbound } from "./inbound.ts";
import { pools } from "./pools.ts";
import { deliverySettings, emailSettings, providers, push, retention, smsSettings, trackingSettings } from "./settings.ts";
import type { AppEnv } from "./types.ts";
import { webhooks } from "./webhooks.ts";
import { providerWebhooks } from "./provider-webhooks.ts";
import { webhookEndpoints } from "./webhook-endpoints.ts";
import { dashboard } from "../dashboard/index.tsx";
import { bridgeHealth } from "./bridge-health.ts";

export const app = new Hono<AppEnv>();

app.use(requestId());
app.use(secureHeaders());

app.get("/", (c) => c.json({ name: "lasthop", api: "/v1" }));
app.get("/healthz", (c) => c.json({ ok: true }));
// The OpenAPI document and its interactive reference (docs.ts).
app.route("/", docs);

// Every account route names the scope it needs: reads need `read`, writes their own (scopes.ts).
for (const { prefix, write, readPosts } of routeScopes) app.use(`${prefix}/*`, scoped(write, readPosts));
app.route("/v1/messages", messages);
app.route("/v1/suppressions", suppressions);
app.route("/v1/stats", stats);
app.route("/v1/routes", routeStatus);
app.route("/v1/sms", sms);
app.route("/v1/sms", smsSettings);
app.route("/v1/email", emailSettings);
app.route("/v1/email", deliverySettings);
app.route("/v1/email", trackingSettings);
app.route("/v1/email", pools);
app.route("/v1/push", push);
app.route("/v1/providers", providers);
app.route("/v1/domains", domains);
app.route("/v1/api-keys", apiKeys);
app.route("/v1/audit", audit);
app.route("/v1/recipients", recipients);
app.route("/v1/retention", retention);
app.route("/v1/webhook-endpoints", webhookEndpoints);
app.route("/v1/templates", templates);
app.route("/v1/bridge", bridgeHealth);
app.route("/v1/admin", admin);
app.route("/v1/webhooks", webhooks);
app.route("/v1/webhooks", providerWebhooks);
app.route("/v1/inbound", inbound);
app.use("/u/*", limitBody);
app.route("/u", unsubscribeRoutes);
app.route("/t", trackingRoutes);
// The dashboard reads and writes through this app's own fetch: the public API, in process.
app.route(
  "/dashboard",
  dashboard((req, env, ctx) => app.fetch(req, env, ctx)),
);

app.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404));

app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
  if (err instanceof HTTPException) return c.json(errorBody("http_error", err.message), err.status);
  console.error(JSON.stringify({ msg: "unhandled error", path: c.req.path, error: String(err), stack: (err as Error).stack }));
  return c.json(errorBody("internal_error", "something went wrong on our side; retry with the same Idempotency-Key"), 500);
});
