/**
 * Isolation (isolation-suite.ts): every route of the app with an account's data has a row, and
 * the API's rows outside the other groups run here; isolation-<group>.test.ts run the rest.
 */
import { everyRouteHasARow, isolationGroup } from "./isolation-suite.ts";

everyRouteHasARow();
isolationGroup("api");
