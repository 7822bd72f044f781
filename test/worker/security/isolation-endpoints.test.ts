/** Isolation of the endpoints routes (isolation-suite.ts). */
import { isolationGroup } from "./isolation-suite.ts";

isolationGroup("endpoints");
