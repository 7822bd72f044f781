/**
 * The dashboard at /dashboard: server-rendered pages (Hono JSX) that read and write only
 * through the public API, in process, as the signed-in key. One stylesheet, no script.
 *
 * Sign-in takes an API key with the `read` scope and keeps it sealed in an HttpOnly,
 * SameSite=Strict cookie (session.ts). Every POST passes hono's Origin check and carries the
 * session's CSRF token; forms answer with a redirect (POST, redirect, GET), except those that
 * show a new secret once.
 */
import { Hono, type Context } from "hono";
import { deleteCookie, generateCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { apiClient, errorText } from "./api-client.ts";
import { Bare, ErrorBox, Outcome, Page } from "./layout.tsx";
import { messagePages } from "./messages.tsx";
import { overviewPages } from "./overview.tsx";
import { csrfToken, csrfValid, openSession, sealSession, secureCookie, SESSION_COOKIE, SESSION_TTL_MS } from "./session.ts";
import { settingsPages } from "./settings.tsx";
import { CSS } from "./style.ts";
import { suppressionPages } from "./suppressions.tsx";
import type { ApiFetch, DashEnv } from "./types.ts";
import { webhookPages } from "./webhooks.tsx";

/** Same-origin files only: no inline script or style, no framing, forms post here only. */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The session cookie's attributes, the same when it is set and when it is cleared. */
function cookieOptions(url: string) {
  return { httpOnly: true, sameSite: "Strict", path: "/dashboard", secure: secureCookie(url) } as const;
}

/** Where to go after sign-in: a dashboard path only (no open redirect). */
function nextPath(value: string | undefined): string {
  return value && /^\/dashboard(\/[^/\\]|$|\?)/.test(value) && !value.includes("//") ? value : "/dashboard";
}

const SignIn = ({ next, error, notice }: { next: string; error?: string; notice?: string }) => (
  <Bare title="Sign in to lasthop">
    <Outcome error={error} notice={notice} />
    <form method="post" action="/dashboard/sign-in">
      <input type="hidden" name="next" value={next} />
      <label>
        API key (needs the read scope)
        <input type="password" name="key" autocomplete="current-password" required autofocus />
      </label>
      <button type="submit">Sign in</button>
    </form>
  </Bare>
);

const Refused = ({ text }: { text: string }) => (
  <Bare title="Refused">
    <ErrorBox text={text} />
    <p>
      <a href="/dashboard">Back to the dashboard</a>
    </p>
  </Bare>
);

/** A body that says it is a form but is not one (a multipart body without its parts): refused, not a 500. */
const Unreadable = () => <Refused text="400: this form's body could not be read. Reload the page and try again." />;

/** The posted form, or null when the body cannot be parsed as the form its content type names. */
async function formOf(c: Context<DashEnv>): Promise<Record<string, string | File> | null> {
  try {
    return await c.req.parseBody();
  } catch {
    return null;
  }
}

export function dashboard(fetchApi: ApiFetch) {
  const app = new Hono<DashEnv>();

  app.use(async (c, next) => {
    await next();
    c.header("content-security-policy", CSP);
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
  });
  // Cross-site form posts are refused before anything reads them (and before the token check).
  app.use(csrf());

  app.get("/static/app.css", (c) =>
    c.body(CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
  );

  app.get("/sign-in", (c) =>
    c.html(
      <SignIn
        next={nextPath(c.req.query("next"))}
        notice={
          c.req.query("signed-out") !== undefined
            ? "You are signed out."
            : c.req.query("expired") !== undefined
              ? "Your session ended: the API no longer accepts its key. Sign in again."
              : undefined
        }
      />,
    ),
  );

  app.post("/sign-in", async (c) => {
    const form = await formOf(c);
    if (!form) return c.html(<Unreadable />, 400);
    const key = typeof form.key === "string" ? form.key.trim() : "";
    const next = nextPath(typeof form.next === "string" ? form.next : undefined);
    if (!key) return c.html(<SignIn next={next} error="Enter an API key." />, 400);
    // The key is checked the way every page will use it: an API read that needs the read scope.
    const answer = await apiClient(fetchApi, c, key).get("/v1/stats");
    if (!answer.ok)
      return c.html(<SignIn next={next} error={`The API refused this key: ${errorText(answer)}`} />, answer.status === 429 ? 429 : 401);
    const { value } = await sealSession(c.env, key);
    setCookie(c, SESSION_COOKIE, value, { ...cookieOptions(c.req.url), maxAge: SESSION_TTL_MS / 1000 });
    return c.redirect(next, 303);
  });

  // Everything below needs a session.
  app.use(async (c, next) => {
    const session = await openSession(c.env, getCookie(c, SESSION_COOKIE));
    if (!session) {
      const here = new URL(c.req.url);
      const back = c.req.method === "GET" ? `?next=${encodeURIComponent(here.pathname + here.search)}` : "";
      return c.redirect(`/dashboard/sign-in${back}`, 303);
    }
    c.set("session", session);
    c.set("csrf", await csrfToken(session));
    const api = apiClient(fetchApi, c, session.key);
    c.set("api", api);
    if (c.req.method === "POST") {
      const form = await formOf(c);
      if (!form) return c.html(<Unreadable />, 400);
      if (!(await csrfValid(session, form._csrf))) {
        return c.html(<Refused text="403: this form's CSRF token is missing or wrong. Reload the page and try again." />, 403);
      }
    }
    await next();
    // The key stopped working (revoked, or its account disabled): the session ends here.
    if (api.unauthorized) {
      const cleared = generateCookie(SESSION_COOKIE, "", { ...cookieOptions(c.req.url), maxAge: 0 });
      c.res = undefined;
      c.res = new Response(null, { status: 303, headers: { location: "/dashboard/sign-in?expired", "set-cookie": cleared } });
    }
  });

  app.post("/sign-out", (c) => {
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c.req.url));
    return c.redirect("/dashboard/sign-in?signed-out", 303);
  });

  app.route("/", overviewPages);
  app.route("/", messagePages);
  app.route("/", suppressionPages);
  app.route("/", webhookPages);
  app.route("/", settingsPages);
  app.all("*", (c) =>
    c.html(
      <Page title="Not found" path="" csrf={c.var.csrf} error={`404: there is no dashboard page ${c.req.path}`}>
        <p>
          <a href="/dashboard">Back to the overview</a>
        </p>
      </Page>,
      404,
    ),
  );

  // An error is a page that says so, never a blank one or a JSON body in the browser.
  app.onError((err, c) => {
    if (err instanceof HTTPException && err.status === 403) {
      return c.html(<Refused text="403: this form was not sent from this dashboard (its Origin does not match)." />, 403);
    }
    console.error(JSON.stringify({ msg: "dashboard error", path: c.req.path, error: String(err), stack: (err as Error).stack }));
    return c.html(<Refused text="500: something went wrong on our side. Reload the page to try again." />, 500);
  });
  return app;
}
