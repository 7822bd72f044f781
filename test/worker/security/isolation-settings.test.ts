/** Isolation of the settings routes (isolation-suite.ts). */
import { isolationGroup } from "./isolation-suite.ts";

isolationGroup("settings");
