/** Webhook endpoints: list, create, disable or enable, rotate the secret, attempts, recover. */
import { type Context, Hono } from "hono";
import { cleanQuery, errorText } from "./api-client.ts";
import { Csrf, ErrorBox, Page, Time } from "./layout.tsx";
import { status } from "./status.ts";
import type { DashEnv } from "./types.ts";

type Endpoint = {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
  secretRotatedAt: string | null;
  eventTypes: string[] | null;
  channels: string[] | null;
  rateLimitPerSecond: number | null;
};
type Attempt = {
  id: string;
  eventId: string;
  eventType: string;
  messageId: string | null;
  at: string;
  result: string;
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  trigger: string;
  nextAttemptAt: string | null;
};

const NOTICES: Record<string, string> = {
  disabled: "The endpoint is disabled: nothing is delivered to it until it is enabled.",
  enabled: "The endpoint is enabled.",
  recovered: "Failed deliveries of that window are scheduled again.",
};

/** Shown once, in the answer to the form that made it (a redirect would have to store it). */
const Secret = ({ secret, what }: { secret: string; what: string }) => (
  <div class="secret" role="status">
    <p>{what} Copy the signing secret now; it is not shown again:</p>
    <p>
      <code>{secret}</code>
    </p>
  </div>
);

const path = (id: string) => `/v1/webhook-endpoints/${encodeURIComponent(id)}`;

export const webhookPages = new Hono<DashEnv>()
  .get("/webhooks", async (c) => {
    const answer = await c.var.api.get<{ data: Endpoint[] }>("/v1/webhook-endpoints");
    c.status(status(answer));
    return c.html(
      <Page title="Webhook endpoints" path="/dashboard/webhooks" csrf={c.var.csrf} error={answer.ok ? null : errorText(answer)}>
        {answer.ok ? (
          <div class="table">
            <table class="stack">
              <caption class="muted">{answer.body.data.length === 0 ? "No endpoints yet." : "Where lasthop posts your events"}</caption>
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Description</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {answer.body.data.map((e) => (
                  <tr>
                    <td data-label="URL">
                      <a href={`/dashboard/webhooks/${e.id}`} class="mono">
                        {e.url}
                      </a>
                    </td>
                    <td data-label="Description">{e.description ?? ""}</td>
                    <td data-label="State">
                      <EnabledPill endpoint={e} />
                    </td>
                    <td data-label="Created">
                      <Time at={e.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <h2 id="create">Add an endpoint</h2>
        <form method="post" action="/dashboard/webhooks" aria-labelledby="create">
          <Csrf token={c.var.csrf} />
          <div class="fields">
            <label>
              URL
              <input type="url" name="url" required placeholder="https://example.com/hooks/lasthop" size={40} />
            </label>
            <label>
              Description
              <input type="text" name="description" maxlength={256} />
            </label>
            <button type="submit">Add endpoint</button>
          </div>
        </form>
      </Page>,
    );
  })
  .post("/webhooks", async (c) => {
    const form = await c.req.parseBody();
    const description = String(form.description ?? "").trim();
    const answer = await c.var.api.send<Endpoint & { secret: string }>("POST", "/v1/webhook-endpoints", {
      url: String(form.url ?? ""),
      ...(description ? { description } : {}),
    });
    if (!answer.ok) {
      return c.html(
        <Page title="Webhook endpoints" path="/dashboard/webhooks" csrf={c.var.csrf} error={errorText(answer)}>
          <p>
            <a href="/dashboard/webhooks">Back to the endpoints</a>
          </p>
        </Page>,
        status(answer),
      );
    }
    return c.html(
      <Page title="Endpoint added" path="/dashboard/webhooks" csrf={c.var.csrf}>
        <Secret secret={answer.body.secret} what={`${answer.body.url} is added.`} />
        <p>
          <a href={`/dashboard/webhooks/${answer.body.id}`}>Open the endpoint</a> · <a href="/dashboard/webhooks">All endpoints</a>
        </p>
      </Page>,
      201,
    );
  })
  .get("/webhooks/:id", async (c) => {
    const id = c.req.param("id");
    const q = cleanQuery(c.req.query());
    const [endpoint, attempts] = await Promise.all([
      c.var.api.get<Endpoint>(path(id)),
      c.var.api.get<{ data: Attempt[]; nextCursor: string | null }>(`${path(id)}/attempts`, {
        status: q.status,
        cursor: q.cursor,
        limit: "50",
      }),
    ]);
    c.status(status(endpoint));
    if (!endpoint.ok) {
      return c.html(
        <Page title="Webhook endpoint" path="/dashboard/webhooks" csrf={c.var.csrf} error={errorText(endpoint)}>
          <p>
            <a href="/dashboard/webhooks">Back to the endpoints</a>
          </p>
        </Page>,
      );
    }
    const e = endpoint.body;
    const notice = q.done && NOTICES[q.done] ? NOTICES[q.done] : null;
    const since = `${new Date(Date.now() - 24 * 3_600_000).toISOString().slice(0, 19)}Z`;
    return c.html(
      <Page title={`Endpoint ${e.url}`} path="/dashboard/webhooks" csrf={c.var.csrf} notice={notice}>
        <p>
          <EnabledPill endpoint={e} /> {e.description ?? ""} · created <Time at={e.createdAt} /> · secret rotated{" "}
          <Time at={e.secretRotatedAt} />
        </p>
        <p class="muted">
          Events: {e.eventTypes?.join(", ") ?? "all but message.queued"} · channels: {e.channels?.join(", ") ?? "all"} · rate:{" "}
          {e.rateLimitPerSecond ?? "default"}/s
        </p>
        <div class="fields">
          <form method="post" action={`/dashboard/webhooks/${e.id}/enabled`} class="inline">
            <Csrf token={c.var.csrf} />
            <input type="hidden" name="enabled" value={e.enabled ? "false" : "true"} />
            <button type="submit" class={e.enabled ? "danger" : ""}>
              {e.enabled ? "Disable" : "Enable"}
            </button>
          </form>
          <form method="post" action={`/dashboard/webhooks/${e.id}/rotate`} class="inline">
            <Csrf token={c.var.csrf} />
            <button type="submit" class="secondary">
              Rotate the secret
            </button>
          </form>
        </div>
        <h2 id="recover">Recover failed deliveries</h2>
        <form method="post" action={`/dashboard/webhooks/${e.id}/recover`} aria-labelledby="recover">
          <Csrf token={c.var.csrf} />
          <div class="fields">
            <label>
              Since (ISO time)
              <input type="text" name="since" value={since} required />
            </label>
            <label>
              Until (optional)
              <input type="text" name="until" placeholder="now" />
            </label>
            <button type="submit">Recover</button>
          </div>
        </form>
        <h2 id="attempts">Attempts</h2>
        <form method="get" action={`/dashboard/webhooks/${e.id}`} aria-label="Filter attempts">
          <div class="fields">
            <label>
              Result
              <select name="status">
                <option value="">any</option>
                <option value="succeeded" selected={q.status === "succeeded"}>
                  succeeded
                </option>
                <option value="failed" selected={q.status === "failed"}>
                  failed
                </option>
              </select>
            </label>
            <button type="submit">Filter</button>
          </div>
        </form>
        {attempts.ok ? (
          <>
            <div class="table">
              <table class="stack" aria-labelledby="attempts">
                <thead>
                  <tr>
                    <th scope="col">At</th>
                    <th scope="col">Event</th>
                    <th scope="col">Result</th>
                    <th scope="col">HTTP</th>
                    <th scope="col">Time</th>
                    <th scope="col">Error</th>
                    <th scope="col">Next</th>
                  </tr>
                </thead>
                <tbody>
                  {attempts.body.data.map((a) => (
                    <tr>
                      <td data-label="At">
                        <Time at={a.at} />
                      </td>
                      <td data-label="Event">
                        {a.eventType}
                        {a.messageId ? (
                          <>
                            {" "}
                            <a href={`/dashboard/messages/${a.messageId}`}>message</a>
                          </>
                        ) : null}{" "}
                        <span class="muted">({a.trigger})</span>
                      </td>
                      <td data-label="Result">
                        <span class={`pill ${a.result === "failed" ? "bad" : a.result === "succeeded" ? "ok" : ""}`}>{a.result}</span>
                      </td>
                      <td data-label="HTTP">{a.statusCode ?? "—"}</td>
                      <td data-label="Time">{a.durationMs === null ? "—" : `${a.durationMs} ms`}</td>
                      <td data-label="Error">{a.error ?? ""}</td>
                      <td data-label="Next">
                        <Time at={a.nextAttemptAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {attempts.body.data.length === 0 ? <p class="muted">No attempts.</p> : null}
            {attempts.body.nextCursor ? (
              <p>
                <a
                  href={`/dashboard/webhooks/${e.id}?${new URLSearchParams({ ...cleanQuery({ status: q.status }), cursor: attempts.body.nextCursor })}`}
                  rel="next"
                >
                  Older attempts
                </a>
              </p>
            ) : null}
          </>
        ) : (
          <ErrorBox text={errorText(attempts)} />
        )}
      </Page>,
    );
  })
  .post("/webhooks/:id/enabled", async (c) => {
    const id = c.req.param("id");
    const enabled = (await c.req.parseBody()).enabled === "true";
    const answer = await c.var.api.send("PATCH", path(id), { enabled });
    if (!answer.ok) return failed(c, id, errorText(answer), status(answer));
    return c.redirect(`/dashboard/webhooks/${encodeURIComponent(id)}?done=${enabled ? "enabled" : "disabled"}`, 303);
  })
  .post("/webhooks/:id/rotate", async (c) => {
    const id = c.req.param("id");
    const answer = await c.var.api.send<Endpoint & { secret: string }>("POST", `${path(id)}/rotate-secret`);
    if (!answer.ok) return failed(c, id, errorText(answer), status(answer));
    return c.html(
      <Page title="Secret rotated" path="/dashboard/webhooks" csrf={c.var.csrf}>
        <Secret secret={answer.body.secret} what="A new secret signs every delivery from now on, beside the old one until it expires." />
        <p>
          <a href={`/dashboard/webhooks/${encodeURIComponent(id)}`}>Back to the endpoint</a>
        </p>
      </Page>,
    );
  })
  .post("/webhooks/:id/recover", async (c) => {
    const id = c.req.param("id");
    const form = await c.req.parseBody();
    const until = String(form.until ?? "").trim();
    const answer = await c.var.api.send("POST", `${path(id)}/recover`, {
      since: String(form.since ?? "").trim(),
      ...(until ? { until } : {}),
    });
    if (!answer.ok) return failed(c, id, errorText(answer), status(answer));
    return c.redirect(`/dashboard/webhooks/${encodeURIComponent(id)}?done=recovered`, 303);
  });

const EnabledPill = ({ endpoint }: { endpoint: Endpoint }) =>
  endpoint.enabled ? <span class="pill ok">enabled</span> : <span class="pill bad">disabled ({endpoint.disabledReason ?? "manual"})</span>;

function failed(c: Context<DashEnv>, id: string, error: string, code: ReturnType<typeof status>) {
  return c.html(
    <Page title="Webhook endpoint" path="/dashboard/webhooks" csrf={c.var.csrf} error={error}>
      <p>
        <a href={`/dashboard/webhooks/${encodeURIComponent(id)}`}>Back to the endpoint</a>
      </p>
    </Page>,
    code,
  );
}
