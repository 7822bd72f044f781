import { Hono } from "hono";
import { routesOf } from "../core/email-routes.ts";
import type { Circuit } from "../core/routes.ts";
import { accountRuntime } from "../state/config-read.ts";
import { circuitStub } from "../state/stubs.ts";
import type { AppEnv } from "./types.ts";

/**
 * `GET /v1/routes`: the account's email and SMS routes in the order they are tried, each with
 * its circuit (`closed`, `open` since `openedAt`, or `half_open` while one probe is out) and
 * failures in a row. A route with nowhere to fail over to keeps no circuit and reads closed.
 */
export const routeStatus = new Hono<AppEnv>().get("/", async (c) => {
  const account = c.get("account");
  const { sections } = await accountRuntime(c.env, account);
  const email = sections.email ? routesOf(sections.email) : [];
  const sms = sections.sms?.routes ?? [];
  const circuits = async (channel: "email" | "sms", names: string[]) =>
    names.length > 1 ? ((await circuitStub(c.env, account, channel).view(names)) as Record<string, Circuit>) : {};
  const [emailCircuits, smsCircuits] = await Promise.all([
    circuits(
      "email",
      email.map((r) => r.name),
    ),
    circuits(
      "sms",
      sms.map((r) => r.name),
    ),
  ]);
  const view = (route: { name: string; type: string }, circuit: Circuit | undefined) => ({
    name: route.name,
    type: route.type,
    circuit: {
      state: circuit?.state ?? "closed",
      failures: circuit?.failures ?? 0,
      ...(circuit && circuit.state !== "closed" ? { openedAt: new Date(circuit.openedAt).toISOString() } : {}),
    },
  });
  return c.json({
    email: email.map((r) => view(r, emailCircuits[r.name])),
    sms: sms.map((r) => view(r, smsCircuits[r.name])),
    ...(sections.email?.rules ? { rules: sections.email.rules } : {}),
    ...(sections.email?.split ? { split: sections.email.split } : {}),
  });
});
