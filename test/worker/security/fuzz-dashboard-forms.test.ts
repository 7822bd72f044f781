/** The fuzz of the dashboard-forms routes (fuzz-suite.ts; fuzz-routes.ts `fuzzGroups` says which). */
import { fuzzGroup } from "./fuzz-suite.ts";

fuzzGroup("dashboard-forms");
