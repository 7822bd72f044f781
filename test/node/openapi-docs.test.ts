// /docs under wrangler dev (the bundle `npm start` runs, with wrangler.toml's Text rules), in a
// real browser that can reach nothing but the Worker: swagger-ui loads from the Worker itself,
// within the page's CSP, and renders every operation of the document.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevWorker, startDevWorker } from "../../sandbox/dev-worker.ts";

let worker: DevWorker;
let origin: string;
let browser: Browser;
const stateDir = mkdtempSync(join(tmpdir(), "lasthop-docs-"));

beforeAll(async () => {
  // Port 0: workerd binds a free port itself (a port picked beforehand can be taken first).
  const started = await startDevWorker({
    config: "wrangler.toml",
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, persist: stateDir },
  });
  worker = started.worker;
  origin = started.url.origin;
  // Debian's chromium (docs/TOOLCHAIN: Playwright's own download needs the internet).
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
});
afterAll(async () => {
  await browser?.close();
  await worker?.dispose();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("/docs in a browser", () => {
  it("renders every operation with only the Worker reachable and no CSP violation", async () => {
    const doc = (await (await fetch(`${origin}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/docs`);
    await page.waitForSelector(".opblock-summary-path", { timeout: 30_000 });
    const paths = await page.locator(".opblock-tag-section .opblock").count();
    expect(paths).toBeGreaterThanOrEqual(operations);
    expect(await page.locator(".info .title").first().textContent()).toContain("lasthop");
    // An operation opened, with its request schema and examples rendered, stays within the CSP too.
    await page.locator("#operations-Messages-postV1Messages .opblock-summary").click();
    await page.waitForSelector("#operations-Messages-postV1Messages .opblock-body .responses-table");
    await page.locator("#operations-Messages-postV1Messages .try-out__btn").click();
    await page.waitForSelector("#operations-Messages-postV1Messages textarea.body-param__text");
    expect(elsewhere, "requests to other origins").toEqual([]);
    expect(errors, "console errors (a CSP violation is one)").toEqual([]);
  });
});
