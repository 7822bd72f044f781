/** Settings: sending domains and their DNS records, API keys, providers (masked), SMS routes, push credentials. */
import { Hono } from "hono";
import { SCOPES } from "../core/config/keys.ts";
import { providerNames } from "../core/config/sections.ts";
import { errorText } from "./api-client.ts";
import { Confirm, Csrf, ErrorBox, Page, Time } from "./layout.tsx";
import { status } from "./status.ts";
import type { ApiAnswer, DashEnv } from "./types.ts";

type DomainRecord = { type: string; name: string; value: string; priority?: number; purpose: string; required: boolean; status: string };
type Domain = { domain: string; status: string; records: DomainRecord[]; verifiedAt: string | null; checkedAt: string | null };
type Key = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  ratePerSecond: number;
  createdAt: string;
  lastUsedAt: string | null;
};

const NOTICES: Record<string, string> = {
  revoked: "The API key is revoked.",
  verified: "DNS was checked: see each record's state.",
  "domain-added": "The domain is added: publish its records, then check DNS.",
};

/** A configuration section as the API shows it (secrets masked), or that it is not set. */
const Section = ({ title, answer }: { title: string; answer: ApiAnswer }) => (
  <details>
    <summary>
      {title}: {answer.ok ? "configured" : answer.status === 404 ? "not configured" : "error"}
    </summary>
    {answer.ok ? <pre>{JSON.stringify(answer.body, null, 2)}</pre> : answer.status === 404 ? null : <ErrorBox text={errorText(answer)} />}
  </details>
);

const back = <a href="/dashboard/settings">Back to settings</a>;

export const settingsPages = new Hono<DashEnv>()
  .get("/settings", async (c) => {
    const api = c.var.api;
    const [domains, keys, sms, email, apns, fcm, webpush, ...providers] = await Promise.all([
      api.get<{ data: Domain[] }>("/v1/domains"),
      api.get<{ data: Key[] }>("/v1/api-keys"),
      api.get<{ routes?: Array<{ name: string; type: string }> }>("/v1/sms/settings"),
      api.get("/v1/email/settings"),
      api.get("/v1/push/apns"),
      api.get("/v1/push/fcm"),
      api.get("/v1/push/webpush"),
      ...providerNames.map((p) => api.get(`/v1/providers/${p}`)),
    ]);
    const q = c.req.query();
    return c.html(
      <Page title="Settings" path="/dashboard/settings" csrf={c.var.csrf} notice={q.done ? (NOTICES[q.done] ?? null) : null}>
        <h2 id="domains">Sending domains</h2>
        {domains.ok && domains.body.data.length === 0 ? <p class="muted">No sending domains yet.</p> : null}
        {domains.ok ? (
          domains.body.data.map((d) => (
            <section aria-label={d.domain}>
              <h3>
                {d.domain} <span class={`pill ${d.status === "verified" ? "ok" : ""}`}>{d.status}</span>
              </h3>
              <p class="muted">
                Checked <Time at={d.checkedAt} /> · verified <Time at={d.verifiedAt} />
              </p>
              <div class="table">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Type</th>
                      <th scope="col">Name</th>
                      <th scope="col">Value</th>
                      <th scope="col">Purpose</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.records.map((r) => (
                      <tr>
                        <td>{r.type}</td>
                        <td class="mono">{r.name}</td>
                        <td class="mono">{`${r.priority !== undefined ? `${r.priority} ` : ""}${r.value}`}</td>
                        <td>
                          {r.purpose}
                          {r.required ? "" : " (optional)"}
                        </td>
                        <td>
                          <span class={`pill ${r.status === "verified" ? "ok" : r.status === "pending" ? "" : "bad"}`}>{r.status}</span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <form method="post" action={`/dashboard/settings/domains/${encodeURIComponent(d.domain)}/verify`}>
                <Csrf token={c.var.csrf} />
                <button type="submit" class="secondary">
                  Check DNS for {d.domain}
                </button>
              </form>
            </section>
          ))
        ) : (
          <ErrorBox text={errorText(domains)} />
        )}
        <form method="post" action="/dashboard/settings/domains" aria-label="Add a sending domain">
          <Csrf token={c.var.csrf} />
          <div class="fields">
            <label>
              New sending domain
              <input type="text" name="domain" required placeholder="mail.example.com" />
            </label>
            <button type="submit">Add domain</button>
          </div>
        </form>

        <h2 id="keys">API keys</h2>
        {keys.ok ? (
          <div class="table">
            <table aria-labelledby="keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Rate</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span class="muted">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.body.data.map((k) => (
                  <tr>
                    <td>{k.name}</td>
                    <td class="mono">{k.prefix ? `${k.prefix}…` : "—"}</td>
                    <td>{k.scopes.join(", ")}</td>
                    <td>{k.ratePerSecond}/s</td>
                    <td>
                      <Time at={k.createdAt} />
                    </td>
                    <td>
                      <Time at={k.lastUsedAt} />
                    </td>
                    <td>
                      <a href={`/dashboard/settings/keys/${encodeURIComponent(k.id)}/revoke`} aria-label={`Revoke ${k.name}`}>
                        Revoke…
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <ErrorBox text={errorText(keys)} />
        )}
        <form method="post" action="/dashboard/settings/keys" aria-label="Create an API key">
          <Csrf token={c.var.csrf} />
          <div class="fields">
            <label>
              New key's name
              <input type="text" name="name" required maxlength={100} />
            </label>
            <fieldset>
              <legend>Scopes</legend>
              {SCOPES.map((s) => (
                <label class="check">
                  <input type="checkbox" name="scopes" value={s} checked={s === "read"} /> {s}
                </label>
              ))}
            </fieldset>
            <button type="submit">Create key</button>
          </div>
        </form>

        <h2 id="routes">SMS routes</h2>
        {sms.ok ? (
          <ul>
            {(sms.body.routes ?? []).map((r) => (
              <li>
                {r.name} <span class="muted">({r.type})</span>
              </li>
            ))}
          </ul>
        ) : null}
        <Section title="SMS settings" answer={sms} />
        <Section title="Email settings" answer={email} />

        <h2 id="push">Push credentials</h2>
        <Section title="APNs" answer={apns} />
        <Section title="FCM" answer={fcm} />
        <Section title="Web push (VAPID)" answer={webpush} />

        <h2 id="providers">Providers</h2>
        <p class="muted">Secrets are masked by the API: only their last characters are shown.</p>
        {providerNames.map((p, i) => (
          <Section title={p} answer={providers[i]!} />
        ))}
      </Page>,
    );
  })
  .post("/settings/keys", async (c) => {
    const form = await c.req.parseBody({ all: true });
    const scopes = ([] as unknown[]).concat(form.scopes ?? []).map(String);
    const answer = await c.var.api.send<Key & { key: string }>("POST", "/v1/api-keys", { name: String(form.name ?? ""), scopes });
    if (!answer.ok) {
      return c.html(
        <Page title="Settings" path="/dashboard/settings" csrf={c.var.csrf} error={errorText(answer)}>
          <p>{back}</p>
        </Page>,
        status(answer),
      );
    }
    return c.html(
      <Page title="API key created" path="/dashboard/settings" csrf={c.var.csrf}>
        <div class="secret" role="status">
          <p>
            {answer.body.name} ({answer.body.scopes.join(", ")}). Copy the key now; it is not shown again:
          </p>
          <p>
            <code>{answer.body.key}</code>
          </p>
        </div>
        <p>{back}</p>
      </Page>,
      201,
    );
  })
  .get("/settings/keys/:id/revoke", (c) => {
    const id = c.req.param("id");
    return c.html(
      <Page title="Revoke an API key" path="/dashboard/settings" csrf={c.var.csrf}>
        <p>
          Revoke the key <code>{id}</code>? Everything using it stops working, this dashboard too if you signed in with it.
        </p>
        <Confirm
          action={`/dashboard/settings/keys/${encodeURIComponent(id)}/revoke`}
          csrf={c.var.csrf}
          label="Revoke"
          cancel="/dashboard/settings"
        />
      </Page>,
    );
  })
  .post("/settings/keys/:id/revoke", async (c) => {
    const answer = await c.var.api.send("DELETE", `/v1/api-keys/${encodeURIComponent(c.req.param("id"))}`);
    if (!answer.ok) {
      return c.html(
        <Page title="Revoke an API key" path="/dashboard/settings" csrf={c.var.csrf} error={errorText(answer)}>
          <p>{back}</p>
        </Page>,
        status(answer),
      );
    }
    return c.redirect("/dashboard/settings?done=revoked#keys", 303);
  })
  .post("/settings/domains", async (c) => {
    const form = await c.req.parseBody();
    const answer = await c.var.api.send("POST", "/v1/domains", { domain: String(form.domain ?? "").trim() });
    if (!answer.ok) {
      return c.html(
        <Page title="Settings" path="/dashboard/settings" csrf={c.var.csrf} error={errorText(answer)}>
          <p>{back}</p>
        </Page>,
        status(answer),
      );
    }
    return c.redirect("/dashboard/settings?done=domain-added#domains", 303);
  })
  .post("/settings/domains/:domain/verify", async (c) => {
    const answer = await c.var.api.send("POST", `/v1/domains/${encodeURIComponent(c.req.param("domain"))}/verify`);
    if (!answer.ok) {
      return c.html(
        <Page title="Settings" path="/dashboard/settings" csrf={c.var.csrf} error={errorText(answer)}>
          <p>{back}</p>
        </Page>,
        status(answer),
      );
    }
    return c.redirect("/dashboard/settings?done=verified#domains", 303);
  });
