/** Overview: each channel's last 24 hours from GET /v1/stats, accepted and delivered apart. */
import { Hono } from "hono";
import type { BridgeHealth } from "../core/api-responses.ts";
import { errorText } from "./api-client.ts";
import { Spark } from "./chart.tsx";
import { ErrorBox, Page } from "./layout.tsx";
import { status } from "./status.ts";
import type { DashEnv } from "./types.ts";

type Bucket = { hour: string; channel: string; counts: Record<string, number> };

/** The bridge (APNs, SMTP, SMPP): its sessions, connections, binds and batches in flight, or why they are unknown. */
const BridgeState = ({ health }: { health: BridgeHealth }) => {
  if (!health.configured) return <p>This deployment has no bridge: APNs, SMTP and SMPP are not sent from here.</p>;
  if (!health.reachable) return <ErrorBox text={`The bridge is unreachable: ${health.error}`} />;
  return (
    <div class="table">
      <table aria-labelledby="bridge">
        <tbody>
          <tr>
            <th scope="row">APNs sessions</th>
            <td>{health.apns.sessions}</td>
          </tr>
          <tr>
            <th scope="row">SMTP connections</th>
            <td>{health.smtp.connections}</td>
          </tr>
          <tr>
            <th scope="row">SMPP binds up</th>
            <td>{health.smpp ? `${health.smpp.up} of ${health.smpp.binds} (${health.smpp.routes} routes)` : "no SMPP routes"}</td>
          </tr>
          <tr>
            <th scope="row">Batches in flight</th>
            <td>{health.inFlight ?? "unknown"}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
};

const HOUR = 3_600_000;
/** The outcomes charted besides accepted and delivered, as /v1/stats names them. */
const OTHERS = [
  ["queued", "Sent (queued)"],
  ["bounce_hard", "Hard bounces"],
  ["bounce_soft", "Soft bounces"],
  ["bounce_unclassified", "Bounces not classified"],
  ["complained", "Complaints"],
  ["failed", "Failed"],
  ["expired", "Expired"],
  ["suppressed", "Suppressed"],
  ["deferred", "Deferred"],
] as const;

export const overviewPages = new Hono<DashEnv>().get("/", async (c) => {
  const to = Math.ceil(Date.now() / HOUR) * HOUR;
  const from = to - 24 * HOUR;
  const [answer, bridge] = await Promise.all([
    c.var.api.get<{ buckets: Bucket[] }>("/v1/stats", { from: new Date(from).toISOString(), to: new Date(to).toISOString() }),
    c.var.api.get<BridgeHealth>("/v1/bridge/health"),
  ]);
  c.status(status(answer));
  const hours = Array.from({ length: 24 }, (_, i) => new Date(from + i * HOUR).toISOString());
  const byChannel = new Map<string, Map<string, Record<string, number>>>();
  for (const b of answer.ok ? answer.body.buckets : []) {
    const hoursOf = byChannel.get(b.channel) ?? new Map();
    hoursOf.set(new Date(b.hour).toISOString(), b.counts);
    byChannel.set(b.channel, hoursOf);
  }
  const series = (channel: string, outcome: string) => hours.map((h) => byChannel.get(channel)?.get(h)?.[outcome] ?? 0);
  return c.html(
    <Page title="Overview" path="/dashboard" csrf={c.var.csrf} error={answer.ok ? null : errorText(answer)}>
      <p class="muted">
        The last 24 hours, per hour. <strong>Accepted is not delivered:</strong> accepted means the next hop (a mail server, APNs, an SMSC)
        took the message; only the provider's feedback says delivered.
      </p>
      {answer.ok && byChannel.size === 0 ? <p>Nothing was sent in the last 24 hours.</p> : null}
      {[...byChannel.keys()].map((channel) => (
        <section aria-labelledby={`ch-${channel}`}>
          <h2 id={`ch-${channel}`}>{channel === "none" ? "Events linked to no message" : channel}</h2>
          <div class="apart">
            <Spark label="Accepted (next hop took it)" hours={hours} values={series(channel, "accepted")} />
            <Spark label="Delivered (confirmed)" hours={hours} values={series(channel, "delivered")} tone="ok" />
          </div>
          <div class="grid">
            {OTHERS.map(([outcome, label]) => (
              <Spark label={label} hours={hours} values={series(channel, outcome)} />
            ))}
          </div>
        </section>
      ))}
      <h2 id="bridge">Bridge</h2>
      {bridge.ok ? <BridgeState health={bridge.body} /> : <ErrorBox text={errorText(bridge)} />}
      <p class="muted">Bounces and complaints are counted per event: a soft bounce later delivered counts as both.</p>
    </Page>,
  );
});
