/** Messages: the search of GET /v1/messages as a form (the same query parameters), and one message's timeline. */
import { Hono } from "hono";
import { channels, deliveryStates } from "../core/model.ts";
import { cleanQuery, errorText } from "./api-client.ts";
import { Detail, ErrorBox, Page, Time } from "./layout.tsx";
import { status } from "./status.ts";
import type { DashEnv } from "./types.ts";

type Row = {
  id: string;
  createdAt: string;
  channel: string;
  status: string;
  to: string;
  tags: string[];
  route?: string;
  provider?: string;
};
type TimelineEvent = {
  id: string;
  type: string;
  occurredAt: string;
  receivedAt: string;
  provider: string;
  detail: Record<string, unknown>;
};
type Attempt = { at: string; result: string; statusCode: number | null; error: string | null };
type Delivery = { endpointId: string; url: string; eventId: string; eventType: string; status: string; attempts: Attempt[] };

const TEXT_FIELDS = [
  ["recipient", "Recipient", "address, number or token SHA-256"],
  ["tag", "Tag", ""],
  ["route", "Route", ""],
  ["provider", "Provider", ""],
  ["providerMessageId", "Provider message id", ""],
  ["from", "Created from", "e.g. 2026-01-31T00:00:00Z"],
  ["until", "Created before", "e.g. 2026-02-01T00:00:00Z"],
] as const;

export const messagePages = new Hono<DashEnv>()
  .get("/messages", async (c) => {
    const query = cleanQuery(c.req.query());
    const answer = await c.var.api.get<{ data: Row[]; nextCursor: string | null }>("/v1/messages", query);
    const next = answer.ok && answer.body.nextCursor ? `?${new URLSearchParams({ ...query, cursor: answer.body.nextCursor })}` : null;
    const { cursor: _cursor, ...first } = query;
    c.status(status(answer));
    return c.html(
      <Page title="Messages" path="/dashboard/messages" csrf={c.var.csrf} error={answer.ok ? null : errorText(answer)}>
        <search aria-label="Search messages">
          <form method="get" action="/dashboard/messages">
            <div class="fields">
              {TEXT_FIELDS.slice(0, 1).map(([name, label, hint]) => (
                <label>
                  {label}
                  <input type="search" name={name} value={query[name] ?? ""} placeholder={hint} />
                </label>
              ))}
              <label>
                Channel
                <select name="channel">
                  <option value="">any</option>
                  {channels.map((ch) => (
                    <option value={ch} selected={query.channel === ch}>
                      {ch}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Status
                <select name="status">
                  <option value="">any</option>
                  {deliveryStates.map((s) => (
                    <option value={s} selected={query.status === s}>
                      {s}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit">Search</button>
              {/* Open when one of them is in use, so a linked search shows all it filters on. */}
              <details class="more" open={TEXT_FIELDS.slice(1).some(([name]) => query[name]) || query.limit !== undefined}>
                <summary>More filters</summary>
                <div class="fields">
                  {TEXT_FIELDS.slice(1).map(([name, label, hint]) => (
                    <label>
                      {label}
                      <input type="text" name={name} value={query[name] ?? ""} placeholder={hint} />
                    </label>
                  ))}
                  <label>
                    Per page
                    <input type="number" name="limit" min="1" max="100" value={query.limit ?? ""} placeholder="50" />
                  </label>
                </div>
              </details>
            </div>
          </form>
        </search>
        {answer.ok ? (
          <>
            <div class="table">
              <table class="stack">
                <caption class="muted">{answer.body.data.length === 0 ? "No messages match." : "Newest first"}</caption>
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Channel</th>
                    <th scope="col">To</th>
                    <th scope="col">Status</th>
                    <th scope="col">Route</th>
                    <th scope="col">Tags</th>
                  </tr>
                </thead>
                <tbody>
                  {answer.body.data.map((m) => (
                    <tr>
                      <td data-label="Created">
                        <a href={`/dashboard/messages/${m.id}`}>
                          <Time at={m.createdAt} />
                        </a>
                      </td>
                      <td data-label="Channel">{m.channel}</td>
                      <td data-label="To" class="mono">
                        {m.to}
                      </td>
                      <td data-label="Status">
                        <span class="pill">{m.status}</span>
                      </td>
                      <td data-label="Route">{m.route ? `${m.route}${m.provider ? ` (${m.provider})` : ""}` : (m.provider ?? "")}</td>
                      <td data-label="Tags">{m.tags.join(", ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p>
              {query.cursor ? <a href={`/dashboard/messages?${new URLSearchParams(first)}`}>First page</a> : null}{" "}
              {next ? (
                <a href={`/dashboard/messages${next}`} rel="next">
                  Next page
                </a>
              ) : null}
            </p>
          </>
        ) : null}
      </Page>,
    );
  })
  .get("/messages/:id", async (c) => {
    const id = c.req.param("id");
    const path = `/v1/messages/${encodeURIComponent(id)}`;
    const [message, deliveries] = await Promise.all([
      c.var.api.get<{
        id: string;
        channel: string;
        to: string;
        status: string;
        attempts: number;
        createdAt: string;
        updatedAt: string;
        route?: string;
        providerMessageId?: string;
        external?: { provider: string };
        receipts?: Array<{ segment: number; smscId: string; stat?: string; err?: string; at?: string }>;
        events: TimelineEvent[];
      }>(path),
      c.var.api.get<{ data: Delivery[] }>(`${path}/deliveries`),
    ]);
    c.status(status(message));
    if (!message.ok) {
      return c.html(
        <Page title="Message" path="/dashboard/messages" csrf={c.var.csrf} error={errorText(message)}>
          <p>
            <a href="/dashboard/messages">Back to the search</a>
          </p>
        </Page>,
      );
    }
    const m = message.body;
    return c.html(
      <Page title={`Message to ${m.to}`} path="/dashboard/messages" csrf={c.var.csrf}>
        <div class="table">
          <table>
            <tbody>
              {(
                [
                  ["Id", <span class="mono">{m.id}</span>],
                  ["Channel", m.channel],
                  ["To", <span class="mono">{m.to}</span>],
                  ["Status", <span class="pill">{m.status}</span>],
                  ["Route", m.route ?? (m.external ? `external (${m.external.provider})` : "—")],
                  ["Provider message id", <span class="mono">{m.providerMessageId ?? "—"}</span>],
                  ["Attempts", String(m.attempts)],
                  ["Created", <Time at={m.createdAt} />],
                  ["Updated", <Time at={m.updatedAt} />],
                ] as const
              ).map(([label, value]) => (
                <tr>
                  <th scope="row">{label}</th>
                  <td>{value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="muted">Accepted means the next hop took the message; only a delivery event says it was delivered.</p>
        <h2 id="timeline">Timeline</h2>
        <div class="table">
          <table class="stack" aria-labelledby="timeline">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Provider</th>
                <th scope="col">Occurred</th>
                <th scope="col">Received</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {m.events.map((e) => (
                <tr>
                  <td data-label="Event">
                    <span class="pill">{e.type}</span>
                  </td>
                  <td data-label="Provider">{e.provider}</td>
                  <td data-label="Occurred">
                    <Time at={e.occurredAt} />
                  </td>
                  <td data-label="Received">
                    <Time at={e.receivedAt} />
                  </td>
                  <td data-label="Detail">
                    <Detail value={e.detail} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {m.receipts?.length ? (
          <>
            <h2 id="receipts">Delivery receipts</h2>
            <div class="table">
              <table aria-labelledby="receipts">
                <thead>
                  <tr>
                    <th scope="col">Part</th>
                    <th scope="col">SMSC id</th>
                    <th scope="col">Status</th>
                    <th scope="col">Error</th>
                    <th scope="col">At</th>
                  </tr>
                </thead>
                <tbody>
                  {m.receipts.map((r) => (
                    <tr>
                      <td>{r.segment}</td>
                      <td class="mono">{r.smscId}</td>
                      <td>{r.stat ?? "—"}</td>
                      <td>{r.err ?? "—"}</td>
                      <td>
                        <Time at={r.at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ) : null}
        <h2 id="deliveries">Webhook deliveries</h2>
        {deliveries.ok ? (
          deliveries.body.data.length === 0 ? (
            <p class="muted">No event of this message went to a webhook endpoint.</p>
          ) : (
            <div class="table">
              <table class="stack" aria-labelledby="deliveries">
                <thead>
                  <tr>
                    <th scope="col">Endpoint</th>
                    <th scope="col">Event</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                  </tr>
                </thead>
                <tbody>
                  {deliveries.body.data.map((d) => (
                    <tr>
                      <td data-label="Endpoint">
                        <a href={`/dashboard/webhooks/${d.endpointId}`} class="mono">
                          {d.url}
                        </a>
                      </td>
                      <td data-label="Event">{d.eventType}</td>
                      <td data-label="Status">
                        <span class={`pill ${d.status === "failed" ? "bad" : d.status === "succeeded" ? "ok" : ""}`}>{d.status}</span>
                      </td>
                      <td data-label="Attempts">
                        {d.attempts
                          .map(
                            (a) =>
                              `${a.at.slice(11, 19)} ${a.result}${a.statusCode ? ` ${a.statusCode}` : ""}${a.error ? ` ${a.error}` : ""}`,
                          )
                          .join("; ")}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : (
          <ErrorBox text={errorText(deliveries)} />
        )}
      </Page>,
    );
  });
