import type { Child, FC, PropsWithChildren } from "hono/jsx";

export const NAV = [
  ["/dashboard", "Overview"],
  ["/dashboard/messages", "Messages"],
  ["/dashboard/suppressions", "Suppressions"],
  ["/dashboard/webhooks", "Webhooks"],
  ["/dashboard/settings", "Settings"],
] as const;

/** A hidden CSRF field: every state-changing form carries one. */
export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

const Head: FC<{ title: string }> = ({ title }) => (
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{`${title} · lasthop`}</title>
    {/* No favicon request (it would 404 into the console). */}
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/dashboard/static/app.css" />
  </head>
);

/** A page of the signed-in dashboard: header with the sections and sign-out, the page's own content. */
export const Page: FC<PropsWithChildren<{ title: string; path: string; csrf: string; error?: string | null; notice?: string | null }>> = ({
  title,
  path,
  csrf,
  error,
  notice,
  children,
}) => (
  <html lang="en">
    <Head title={title} />
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <strong>lasthop</strong>
        <nav aria-label="Sections">
          <ul>
            {NAV.map(([href, label]) => (
              <li>
                <a href={href} aria-current={path === href ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <form method="post" action="/dashboard/sign-out">
          <Csrf token={csrf} />
          <button type="submit" class="secondary">
            Sign out
          </button>
        </form>
      </header>
      <main id="main">
        <h1>{title}</h1>
        <Outcome error={error} notice={notice} />
        {children}
      </main>
    </body>
  </html>
);

export const ErrorBox: FC<{ text: string }> = ({ text }) => (
  <p class="alert" role="alert">
    {text}
  </p>
);

/** What the last action came to: its error, or its notice (a live region, so it is read out). */
export const Outcome: FC<{ error?: string | null; notice?: string | null }> = ({ error, notice }) => (
  <>
    {error ? <ErrorBox text={error} /> : null}
    {notice ? (
      <p class="notice" role="status">
        {notice}
      </p>
    ) : null}
  </>
);

/** The second step of a destructive action: its POST (CSRF and `fields` carried) or Cancel. */
export const Confirm: FC<{ action: string; csrf: string; label: string; cancel: string; fields?: Record<string, string> }> = ({
  action,
  csrf,
  label,
  cancel,
  fields = {},
}) => (
  <form method="post" action={action}>
    <Csrf token={csrf} />
    {Object.entries(fields).map(([name, value]) => (
      <input type="hidden" name={name} value={value} />
    ))}
    <button type="submit" class="danger">
      {label}
    </button>{" "}
    <a href={cancel}>Cancel</a>
  </form>
);

export const Bare: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <Head title={title} />
    <body>
      <main id="main" class="signin">
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
);

/** A compact view of a JSON detail: key → value, nested values as JSON. */
export const Detail: FC<{ value: unknown }> = ({ value }) => {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  if (typeof value !== "object") return <span class="mono">{String(value)}</span>;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <span class="muted">—</span>;
  return <pre>{entries.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join("\n") as Child}</pre>;
};

export const Time: FC<{ at: string | null | undefined }> = ({ at }) =>
  at ? <time datetime={at}>{at.replace("T", " ").replace(/\.\d+Z$|Z$/, "Z")}</time> : <span class="muted">—</span>;
