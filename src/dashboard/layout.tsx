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
        {error ? <ErrorBox text={error} /> : null}
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
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
