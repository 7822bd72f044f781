/** The fuzz of the messages routes (fuzz-suite.ts; fuzz-routes.ts `fuzzGroups` says which). */
import { fuzzGroup } from "./fuzz-suite.ts";

fuzzGroup("messages");
