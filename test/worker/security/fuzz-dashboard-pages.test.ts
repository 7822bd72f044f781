/** The fuzz of the dashboard-pages routes (fuzz-suite.ts; fuzz-routes.ts `fuzzGroups` says which). */
import { fuzzGroup } from "./fuzz-suite.ts";

fuzzGroup("dashboard-pages");
