/** Suppressions: filter by channel and reason, add, remove (after a confirmation page), export as CSV. */
import { Hono } from "hono";
import { channels, suppressionReasons } from "../core/model.ts";
import { cleanQuery, errorText } from "./api-client.ts";
import { Confirm, Csrf, Page, Time } from "./layout.tsx";
import { status } from "./status.ts";
import type { Api, ApiAnswer, DashEnv } from "./types.ts";

type Entry = { channel: string; recipientKey: string; recipient: string; reason: string; at: string; messageId?: string };
type ListPage = { data: Entry[]; nextCursor: string | null };

const PAGE = 100;
/** With a reason filter, how many API pages one dashboard page reads at most looking for matches. */
const MAX_SCAN = 10;

/**
 * A page of entries: the API's page, or with a reason (which the API does not filter on) as
 * many of its pages as it takes to fill one, up to MAX_SCAN.
 */
async function listPage(api: Api, channel: string | undefined, reason: string | undefined, cursor: string | undefined) {
  const data: Entry[] = [];
  let next = cursor;
  for (let scanned = 0; scanned < (reason ? MAX_SCAN : 1); scanned++) {
    const answer: ApiAnswer<ListPage> = await api.get("/v1/suppressions", { channel, cursor: next, limit: String(PAGE) });
    if (!answer.ok) return { answer, data, nextCursor: null };
    data.push(...answer.body.data.filter((e) => !reason || e.reason === reason));
    next = answer.body.nextCursor ?? undefined;
    if (!next || data.length >= PAGE) break;
  }
  return { answer: null, data, nextCursor: next ?? null };
}

/** RFC 4180: quote every field, double the quotes; a leading formula character is neutralised for spreadsheets. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replaceAll('"', '""')}"`;
}

const NOTICES: Record<string, string> = { removed: "Removed from the suppression list", added: "Added to the suppression list" };

export const suppressionPages = new Hono<DashEnv>()
  .get("/suppressions", async (c) => {
    const q = cleanQuery(c.req.query());
    const { answer, data, nextCursor } = await listPage(c.var.api, q.channel, q.reason, q.cursor);
    const notice = q.done && NOTICES[q.done] ? `${NOTICES[q.done]}: ${q.who ?? ""}` : null;
    const filters = cleanQuery({ channel: q.channel, reason: q.reason });
    if (answer) c.status(status(answer));
    return c.html(
      <Page title="Suppressions" path="/dashboard/suppressions" csrf={c.var.csrf} error={answer ? errorText(answer) : null} notice={notice}>
        <form method="get" action="/dashboard/suppressions" aria-label="Filter suppressions">
          <div class="fields">
            <label>
              Channel
              <select name="channel">
                <option value="">any</option>
                {channels.map((ch) => (
                  <option value={ch} selected={q.channel === ch}>
                    {ch}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Reason
              <select name="reason">
                <option value="">any</option>
                {suppressionReasons.map((r) => (
                  <option value={r} selected={q.reason === r}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Filter</button>
            <a href={`/dashboard/suppressions.csv?${new URLSearchParams(filters)}`} download="suppressions.csv">
              Export CSV
            </a>
          </div>
        </form>
        <div class="table">
          <table class="stack">
            <caption class="muted">{data.length === 0 ? "No suppressions match." : `${data.length} shown`}</caption>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Recipient</th>
                <th scope="col">Reason</th>
                <th scope="col">Since</th>
                <th scope="col">Message</th>
                <th scope="col">
                  <span class="muted">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((e) => (
                <tr>
                  <td data-label="Channel">{e.channel}</td>
                  <td data-label="Recipient" class="mono">
                    {e.recipient}
                  </td>
                  <td data-label="Reason">{e.reason}</td>
                  <td data-label="Since">
                    <Time at={e.at} />
                  </td>
                  <td data-label="Message">{e.messageId ? <a href={`/dashboard/messages/${e.messageId}`}>open</a> : "—"}</td>
                  <td data-label="Action">
                    <a
                      href={`/dashboard/suppressions/remove?${new URLSearchParams({ channel: e.channel, recipient: e.recipientKey })}`}
                      aria-label={`Remove ${e.recipient}`}
                    >
                      Remove…
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {nextCursor ? (
          <p>
            <a href={`/dashboard/suppressions?${new URLSearchParams({ ...filters, cursor: nextCursor })}`} rel="next">
              Next page
            </a>
          </p>
        ) : null}
        <h2 id="add">Add a suppression</h2>
        <form method="post" action="/dashboard/suppressions/add" aria-labelledby="add">
          <Csrf token={c.var.csrf} />
          <div class="fields">
            <label>
              Channel
              <select name="channel" required>
                {channels.map((ch) => (
                  <option value={ch}>{ch}</option>
                ))}
              </select>
            </label>
            <label>
              Recipient
              <input type="text" name="recipient" required placeholder="address, E.164 number or token SHA-256" />
            </label>
            <button type="submit">Add</button>
          </div>
        </form>
      </Page>,
    );
  })
  .get("/suppressions.csv", async (c) => {
    const q = cleanQuery(c.req.query());
    const api = c.var.api;
    // The first page is read before answering, so an API error is a status, not a broken download.
    const first = await api.get<ListPage>("/v1/suppressions", { channel: q.channel, limit: "1000" });
    if (!first.ok) return c.text(errorText(first), status(first));
    const encoder = new TextEncoder();
    const rows = (page: Entry[]) =>
      page
        .filter((e) => !q.reason || e.reason === q.reason)
        .map((e) => `${[e.channel, e.recipient, e.reason, e.at, e.messageId ?? ""].map(csvField).join(",")}\r\n`)
        .join("");
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(`channel,recipient,reason,at,messageId\r\n${rows(first.body.data)}`));
        let cursor = first.body.nextCursor;
        while (cursor) {
          const page = await api.get<ListPage>("/v1/suppressions", { channel: q.channel, limit: "1000", cursor });
          if (!page.ok) {
            controller.error(new Error(errorText(page)));
            return;
          }
          controller.enqueue(encoder.encode(rows(page.body.data)));
          cursor = page.body.nextCursor;
        }
        controller.close();
      },
    });
    return c.body(body, 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": 'attachment; filename="suppressions.csv"',
    });
  })
  .post("/suppressions/add", async (c) => {
    const form = await c.req.parseBody();
    const channel = String(form.channel ?? "");
    const recipient = String(form.recipient ?? "").trim();
    const answer = await c.var.api.send("PUT", `/v1/suppressions/${encodeURIComponent(channel)}/${encodeURIComponent(recipient)}`);
    if (!answer.ok) {
      return c.html(
        <Page title="Suppressions" path="/dashboard/suppressions" csrf={c.var.csrf} error={errorText(answer)}>
          <p>
            <a href="/dashboard/suppressions">Back to the list</a>
          </p>
        </Page>,
        status(answer),
      );
    }
    return c.redirect(`/dashboard/suppressions?${new URLSearchParams({ channel, done: "added", who: recipient })}`, 303);
  })
  .get("/suppressions/remove", (c) => {
    const channel = c.req.query("channel") ?? "";
    const recipient = c.req.query("recipient") ?? "";
    return c.html(
      <Page title="Remove a suppression" path="/dashboard/suppressions" csrf={c.var.csrf}>
        <p>
          Remove <strong class="mono">{recipient}</strong> ({channel}) from the suppression list? Messages to it will be sent again.
        </p>
        <Confirm
          action="/dashboard/suppressions/remove"
          csrf={c.var.csrf}
          label="Remove"
          cancel="/dashboard/suppressions"
          fields={{ channel, recipient }}
        />
      </Page>,
    );
  })
  .post("/suppressions/remove", async (c) => {
    const form = await c.req.parseBody();
    const channel = String(form.channel ?? "");
    const recipient = String(form.recipient ?? "");
    const answer = await c.var.api.send("DELETE", `/v1/suppressions/${encodeURIComponent(channel)}/${encodeURIComponent(recipient)}`);
    if (!answer.ok) {
      return c.html(
        <Page title="Remove a suppression" path="/dashboard/suppressions" csrf={c.var.csrf} error={errorText(answer)}>
          <p>
            <a href="/dashboard/suppressions">Back to the list</a>
          </p>
        </Page>,
        status(answer),
      );
    }
    return c.redirect(`/dashboard/suppressions?${new URLSearchParams({ channel, done: "removed", who: recipient })}`, 303);
  });
