// The dashboard in a real browser: Debian's Chromium driven by playwright-core against the
// whole stack (wrangler dev, the bridge, the sandbox). Signs in, finds a message sent here by
// its recipient, opens its timeline, removes a suppression, adds a webhook endpoint and signs
// out, with a screenshot at each step (test-results/dashboard/) and no console error anywhere.
import { mkdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

const SHOTS = "test-results/dashboard";

let stack: TestStack;
let browser: Browser;
beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [stack, browser] = await Promise.all([
    startTestStack(),
    chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

describe("the dashboard in Chromium", () => {
  it("signs in, finds a message, opens its timeline, removes a suppression, adds an endpoint and signs out, with no console error", async () => {
    const run = randomBytes(4).toString("hex");
    const reader = `dash-${run}@example.com`;
    const blocked = `blocked-${run}@example.com`;
    // What the dashboard will show: a message that reached the sandbox MTA, and a suppression.
    const sent = await stack.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ channel: "email", from: "news@lasthop.test", to: reader, subject: "Dashboard", text: "hi" }),
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    await stack.waitForStatus(sent.body.id, "accepted");
    expect((await stack.api(`/v1/suppressions/email/${encodeURIComponent(blocked)}`, { method: "PUT" })).status).toBe(200);
    const { url: hookUrl } = (await stack.sandboxPost("/_sandbox/hooks", { name: `dash-${run}` })) as { url: string };

    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));

    // Sign in: the dashboard sends a visitor without a session to the form first.
    await page.goto(`${stack.workerUrl}/dashboard/messages`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/sign-in");
    await page.getByLabel("API key").fill(stack.apiKey);
    await shot(page, "1-sign-in");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.workerUrl}/dashboard/messages`);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "lh_dash")).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/dashboard" });

    // Search by recipient: the form's query is the API's, so the result is linkable.
    await page.getByLabel("Recipient").fill(reader);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/recipient=/);
    expect(new URL(page.url()).searchParams.get("recipient")).toBe(reader);
    const link = page.locator(`a[href="/dashboard/messages/${sent.body.id}"]`);
    await expect.poll(() => link.count()).toBe(1);
    await shot(page, "2-search");

    // The timeline: every event with its provider and times.
    await link.click();
    await page.waitForURL(`${stack.workerUrl}/dashboard/messages/${sent.body.id}`);
    const timeline = page.getByRole("table", { name: "Timeline" });
    await expect.poll(() => timeline.getByText("queued", { exact: true }).count()).toBe(1);
    await expect.poll(() => timeline.getByText("accepted", { exact: true }).count()).toBe(1);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(`Message to ${reader}`);
    await shot(page, "3-timeline");

    // Remove the suppression, through its confirmation page.
    await page.getByRole("link", { name: "Suppressions" }).click();
    await page.getByLabel("Channel").first().selectOption("email");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("link", { name: `Remove ${blocked}` }).click();
    await page.waitForURL(/\/dashboard\/suppressions\/remove/);
    await shot(page, "4-confirm-removal");
    await page.getByRole("button", { name: "Remove" }).click();
    await page.waitForURL(/done=removed/);
    expect(await page.getByRole("status").textContent()).toContain(blocked);
    expect(await page.getByRole("link", { name: `Remove ${blocked}` }).count()).toBe(0);
    expect((await stack.api(`/v1/suppressions/email/${encodeURIComponent(blocked)}`)).status).toBe(404);
    await shot(page, "5-suppression-removed");

    // Add a webhook endpoint: the sandbox's receiver; the secret is shown once.
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByLabel("URL").fill(hookUrl);
    await page.getByLabel("Description").fill("from the dashboard");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByText("Copy the signing secret now").waitFor();
    expect(await page.locator("div.secret code").textContent()).toMatch(/^whsec_/);
    const endpoints = await stack.api("/v1/webhook-endpoints");
    expect(endpoints.body.data).toContainEqual(expect.objectContaining({ url: hookUrl, description: "from the dashboard", enabled: true }));
    await shot(page, "6-endpoint-added");

    // Sign out: the cookie is gone and the dashboard asks for a key again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/dashboard\/sign-in\?signed-out/);
    expect((await context.cookies()).find((c) => c.name === "lh_dash")).toBeUndefined();
    await page.goto(`${stack.workerUrl}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/sign-in");
    await shot(page, "7-signed-out");

    // The remaining pages render too, without a console error; this sign-in with the keyboard only.
    await page.getByLabel("API key").fill(stack.apiKey);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${stack.workerUrl}/dashboard`);
    await page.getByRole("heading", { name: "email" }).waitFor();
    // The first Tab reaches the skip link, which lands on the page's content.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Skip to content");
    // The stack's bridge is up: its health is a table, not the unreachable state.
    expect(await page.getByRole("table", { name: "Bridge" }).getByText("SMTP connections").count()).toBe(1);
    await shot(page, "8-overview");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await shot(page, "9-settings");
    expect(errors).toEqual([]);
    await context.close();
  });
});
