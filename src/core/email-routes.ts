/**
 * An account's email routes: the bridge relay and hosted providers' send APIs, tried in order,
 * and the rules that choose where a message starts (a pin, a tag, a weighted split). Each
 * hosted route's credentials are its provider section's (`provider:<type>`), the same section
 * whose webhook secret verifies that provider's events: one place per provider.
 */
import { z } from "zod";

export const ESP_TYPES = ["sendgrid", "ses", "mailgun", "postmark", "resend"] as const;
export type EspType = (typeof ESP_TYPES)[number];
export const EMAIL_ROUTE_TYPES = ["relay", ...ESP_TYPES] as const;
export type EmailRouteType = (typeof EMAIL_ROUTE_TYPES)[number];

export const routeName = z.string().regex(/^[a-z0-9_-]{1,32}$/, "1 to 32 of a-z, 0-9, _ and -");

/** The provider's API origin (and path prefix); default: the provider's public API. */
const baseUrl = z
  .url({ protocol: /^https?$/ })
  .max(512)
  .optional();

export const emailRoute = z.discriminatedUnion("type", [
  z.strictObject({ name: routeName, type: z.literal("relay") }),
  z.strictObject({ name: routeName, type: z.literal("sendgrid"), baseUrl }),
  z.strictObject({ name: routeName, type: z.literal("ses"), baseUrl }),
  z.strictObject({ name: routeName, type: z.literal("mailgun"), baseUrl }),
  z.strictObject({ name: routeName, type: z.literal("postmark"), baseUrl }),
  z.strictObject({ name: routeName, type: z.literal("resend"), baseUrl }),
]);
export type EmailRoute = z.infer<typeof emailRoute>;
export type EspRoute = Exclude<EmailRoute, { type: "relay" }>;

/** The public API of each provider (SES: per region). */
export function defaultBaseUrl(type: EspType, region = "us-east-1"): string {
  switch (type) {
    case "sendgrid":
      return "https://api.sendgrid.com";
    case "ses":
      return `https://email.${region}.amazonaws.com`;
    case "mailgun":
      return "https://api.mailgun.net";
    case "postmark":
      return "https://api.postmarkapp.com";
    case "resend":
      return "https://api.resend.com";
  }
}

/** A tag rule: messages carrying `tag` take these routes, in this order (the first rule that matches wins). */
export const tagRule = z.strictObject({ tag: z.string().min(1).max(64), routes: z.array(routeName).min(1).max(10) });
/** A weighted split: a message starts on one route in proportion to the weights; the others follow in order. */
export const splitShare = z.strictObject({ route: routeName, weight: z.number().int().min(0).max(10_000) });

export const emailRouting = {
  /** Tried in order; default: the relay alone. */
  routes: z.array(emailRoute).min(1).max(10).optional(),
  rules: z.array(tagRule).max(50).optional(),
  split: z.array(splitShare).min(1).max(10).optional(),
};

type Routing = { routes?: EmailRoute[]; rules?: z.infer<typeof tagRule>[]; split?: z.infer<typeof splitShare>[] };

export const RELAY_ONLY: readonly EmailRoute[] = [{ name: "relay", type: "relay" }];

export function routesOf(config: Routing): readonly EmailRoute[] {
  return config.routes ?? RELAY_ONLY;
}

/** What is wrong with an email section's routing (every name refers to a route, names unique), as zod issues. */
export function routingIssues(config: Routing): Array<{ path: (string | number)[]; message: string }> {
  const issues: Array<{ path: (string | number)[]; message: string }> = [];
  const routes = routesOf(config);
  const names = new Set<string>();
  routes.forEach((route, i) => {
    if (names.has(route.name)) issues.push({ path: ["routes", i, "name"], message: `route name ${route.name} is used twice` });
    names.add(route.name);
  });
  config.rules?.forEach((rule, i) => {
    rule.routes.forEach((name, j) => {
      if (!names.has(name)) issues.push({ path: ["rules", i, "routes", j], message: `no route is named ${name}` });
    });
  });
  config.split?.forEach((share, i) => {
    if (!names.has(share.route)) issues.push({ path: ["split", i, "route"], message: `no route is named ${share.route}` });
  });
  if (config.split?.every((s) => s.weight === 0)) issues.push({ path: ["split"], message: "at least one weight must be above 0" });
  return issues;
}

/**
 * The routes one message may take, in order:
 * - pinned (a route that took it or may have): that route alone, so it is never handed to two providers;
 * - `route` on the send: that route alone;
 * - the first tag rule that names one of its tags: the rule's routes;
 * - a split: the route its id draws first (stable per message, so a retry starts where the
 *   first attempt did), then the other routes in order;
 * - else every route in order.
 * A name that is no longer configured yields no route (the message fails `no_route`).
 */
export function emailRoutePlan(
  config: Routing,
  message: { id: string; route?: string; tags?: readonly string[] },
  pinned?: string,
): EmailRoute[] {
  const routes = routesOf(config);
  const named = (name: string) => routes.filter((r) => r.name === name);
  if (pinned !== undefined) return named(pinned);
  if (message.route !== undefined) return named(message.route);
  const rule = config.rules?.find((r) => message.tags?.includes(r.tag));
  if (rule) return rule.routes.flatMap(named);
  if (config.split) {
    const first = draw(config.split, message.id);
    if (first !== null) return [...named(first), ...routes.filter((r) => r.name !== first)];
  }
  return [...routes];
}

/** The route a message id draws from weighted shares: a uniform point from the id's leading 32 bits. */
export function draw(split: ReadonlyArray<{ route: string; weight: number }>, id: string): string | null {
  const total = split.reduce((sum, s) => sum + s.weight, 0);
  if (total <= 0) return null;
  const point = (Number.parseInt(id.replace(/-/g, "").slice(0, 8), 16) / 2 ** 32) * total;
  let at = 0;
  for (const share of split) {
    at += share.weight;
    if (point < at) return share.route;
  }
  return split[split.length - 1]!.route;
}
