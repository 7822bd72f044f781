/**
 * The fuzz of every route (fuzz-suite.ts), in groups of one file each (fuzz-routes.ts says why):
 * this file checks that the groups hold every route of the app exactly once, and fuzzes the
 * public group; fuzz-<group>.test.ts the others.
 */
import { describe, expect, it } from "vitest";
import { app } from "../../../src/api/app.ts";
import { fuzzGroup } from "./fuzz-suite.ts";
import { appRouteKeys, fuzzRoutes, groupsOf, routeKey } from "./fuzz-routes.ts";

describe("the fuzz's routes", () => {
  it("are every route of the app", () => {
    const listed = new Set(fuzzRoutes.map(routeKey));
    const missing = appRouteKeys(app.routes).filter((k) => !listed.has(k));
    expect(missing, "routes of the app the fuzz does not call: add them to fuzz-routes.ts").toEqual([]);
  });

  it("each in exactly one group", () => {
    const wrong = fuzzRoutes.map((r) => [routeKey(r), groupsOf(r)] as const).filter(([, groups]) => groups.length !== 1);
    expect(wrong).toEqual([]);
  });
});

fuzzGroup("public");
