/** The fuzz of the settings routes (fuzz-suite.ts; fuzz-routes.ts `fuzzGroups` says which). */
import { fuzzGroup } from "./fuzz-suite.ts";

fuzzGroup("settings");
