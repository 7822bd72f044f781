/** The fuzz of the doors routes (fuzz-suite.ts; fuzz-routes.ts `fuzzGroups` says which). */
import { fuzzGroup } from "./fuzz-suite.ts";

fuzzGroup("doors");
