/** Isolation of the dashboard routes (isolation-suite.ts). */
import { isolationGroup } from "./isolation-suite.ts";

isolationGroup("dashboard");
