import { describe, expect, it } from "vitest";
import { emailAccountConfig } from "../../src/core/email.ts";
import { draw, emailRoutePlan, routesOf, type EmailRoute } from "../../src/core/email-routes.ts";

const base = { bounceDomain: "bounces.example.com", relay: { mode: "direct" } };
const routes: EmailRoute[] = [
  { name: "relay", type: "relay" },
  { name: "sg", type: "sendgrid" },
  { name: "ses", type: "ses", baseUrl: "https://email.eu-west-1.amazonaws.com" },
];
const names = (plan: EmailRoute[]) => plan.map((r) => r.name);
const id = (n: number) => `${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;

describe("the email section's routing", () => {
  it("defaults to the relay alone", () => {
    const config = emailAccountConfig.parse(base);
    expect(routesOf(config)).toEqual([{ name: "relay", type: "relay" }]);
  });

  it.each<[string, Record<string, unknown>, Array<string | number>]>([
    ["a name used twice", { routes: [routes[0], { name: "relay", type: "sendgrid" }] }, ["routes", 1, "name"]],
    ["a rule naming no route", { routes, rules: [{ tag: "marketing", routes: ["sg", "mailgun"] }] }, ["rules", 0, "routes", 1]],
    ["a split naming no route", { routes, split: [{ route: "postmark", weight: 1 }] }, ["split", 0, "route"]],
    ["a split of zero weights", { routes, split: [{ route: "sg", weight: 0 }] }, ["split"]],
    ["an unknown type", { routes: [{ name: "x", type: "sparkpost" }] }, ["routes", 0, "type"]],
    ["a base URL that is not http(s)", { routes: [{ name: "x", type: "sendgrid", baseUrl: "ftp://x" }] }, ["routes", 0, "baseUrl"]],
    ["a route name with capitals", { routes: [{ name: "Relay", type: "relay" }] }, ["routes", 0, "name"]],
  ])("refuses %s, at its path", (_, routing, path) => {
    const result = emailAccountConfig.safeParse({ ...base, ...routing });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path)).toContainEqual(path);
  });
});

describe("emailRoutePlan", () => {
  const config = {
    routes,
    rules: [
      { tag: "marketing", routes: ["sg", "ses"] },
      { tag: "transactional", routes: ["relay"] },
    ],
  };

  it("every route in order by default", () => {
    expect(names(emailRoutePlan({ routes }, { id: id(1) }))).toEqual(["relay", "sg", "ses"]);
  });

  it("a pin wins over everything: the route that took it (or may have) alone", () => {
    expect(names(emailRoutePlan(config, { id: id(1), route: "relay", tags: ["marketing"] }, "ses"))).toEqual(["ses"]);
  });

  it("`route` on the send: that route alone", () => {
    expect(names(emailRoutePlan(config, { id: id(1), route: "ses", tags: ["marketing"] }))).toEqual(["ses"]);
  });

  it("the first tag rule that matches: its routes in its order", () => {
    expect(names(emailRoutePlan(config, { id: id(1), tags: ["welcome", "marketing"] }))).toEqual(["sg", "ses"]);
    expect(names(emailRoutePlan(config, { id: id(1), tags: ["transactional", "marketing"] }))).toEqual(["sg", "ses"]);
    expect(names(emailRoutePlan(config, { id: id(1), tags: ["transactional"] }))).toEqual(["relay"]);
  });

  it("a name no longer configured yields no route", () => {
    expect(emailRoutePlan({ routes }, { id: id(1) }, "gone")).toEqual([]);
    expect(emailRoutePlan({ routes }, { id: id(1), route: "gone" })).toEqual([]);
  });

  it("a split: the drawn route first, the others after it in order, the same for every attempt of a message", () => {
    const split = [
      { route: "sg", weight: 70 },
      { route: "ses", weight: 30 },
    ];
    const low = id(0x10000000); // point 0.0625 × 100 → sg
    const high = id(0xf0000000); // point 0.9375 × 100 → ses
    expect(names(emailRoutePlan({ routes, split }, { id: low }))).toEqual(["sg", "relay", "ses"]);
    expect(names(emailRoutePlan({ routes, split }, { id: high }))).toEqual(["ses", "relay", "sg"]);
    expect(emailRoutePlan({ routes, split }, { id: high })).toEqual(emailRoutePlan({ routes, split }, { id: high }));
  });

  it("a 70/30 split over 1,000 random message ids lands within 5 points of 70/30", () => {
    const split = [
      { route: "relay", weight: 70 },
      { route: "sg", weight: 30 },
    ];
    let relay = 0;
    for (let i = 0; i < 1000; i++) if (draw(split, crypto.randomUUID()) === "relay") relay += 1;
    // Binomial(1000, 0.7): σ ≈ 14.5, so ±50 is more than 3σ.
    expect(relay).toBeGreaterThan(650);
    expect(relay).toBeLessThan(750);
  });

  it("a zero weight is never drawn", () => {
    const split = [
      { route: "relay", weight: 0 },
      { route: "sg", weight: 5 },
    ];
    for (let i = 0; i < 200; i++) expect(draw(split, crypto.randomUUID())).toBe("sg");
  });
});
