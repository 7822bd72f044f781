/// <reference path="./swagger-ui.d.ts" />
/**
 * `GET /openapi.json` (the document, generated once per isolate) and `GET /docs`: swagger-ui,
 * its bundle and stylesheet served by the Worker from the swagger-ui-dist package (imported as
 * text, wrangler.toml `[[rules]]`), so the reference works with no CDN and offline. The page's
 * own CSP allows this origin's scripts and styles only (swagger-ui sets styles through the DOM,
 * which CSP allows), and data: images because its stylesheet embeds its icons.
 */
import { Hono } from "hono";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js";
import css from "swagger-ui-dist/swagger-ui.css";
import { openApiDocument } from "./openapi/document.ts";
import type { AppEnv } from "./types.ts";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lasthop API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// A file of its own rather than an inline script: the CSP needs no 'unsafe-inline' for scripts.
const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });\n`;

const cached = { "cache-control": "public, max-age=3600" };

export const docs = new Hono<AppEnv>()
  .get("/openapi.json", (c) => c.json(openApiDocument()))
  .get("/docs", (c) => c.html(PAGE, 200, { "content-security-policy": CSP }))
  .get("/docs/swagger-ui-bundle.js", (c) => c.body(bundle, 200, { "content-type": "text/javascript; charset=utf-8", ...cached }))
  .get("/docs/swagger-ui.css", (c) => c.body(css, 200, { "content-type": "text/css; charset=utf-8", ...cached }))
  .get("/docs/init.js", (c) => c.body(INIT, 200, { "content-type": "text/javascript; charset=utf-8", ...cached }));
