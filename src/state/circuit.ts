import { DurableObject } from "cloudflare:workers";
import { admit, closedCircuit, observe, type Circuit } from "../core/routes.ts";
import { metered, meteredSql } from "./meter.ts";

/** What a sender may do on a route now: send, send the one probe of a half-open circuit, or pass over it. */
export type Admission = "closed" | "probe" | "open";

type CircuitRow = { route: string; state: Circuit["state"]; failures: number; opened_at: number; probe_until: number };

/**
 * One account's circuits for one channel (`account:circuits:channel`), one row per route.
 * Chosen over per-isolate memory so every isolate sees a route go down and come back at once,
 * and over a read per message because the send consumer asks once per account per batch
 * (`admit`) and reports once after it (`report`): two requests per batch, not per message.
 * The rules are pure (`core/routes.ts`); this object only keeps them.
 */
export class CircuitDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS circuit (route TEXT PRIMARY KEY, state TEXT NOT NULL, failures INTEGER NOT NULL, opened_at INTEGER NOT NULL, probe_until INTEGER NOT NULL)`,
    );
  }

  /** Each route's admission; a half-open circuit lends its one probe to this caller. `now`: tests drive the clock. */
  async admit(routes: string[], now = Date.now()): Promise<Record<string, Admission>> {
    const answer: Record<string, Admission> = {};
    for (const route of routes) {
      const circuit = this.read(route);
      const { admitted, next } = admit(circuit, now, Number(this.env.ROUTE_CIRCUIT_COOL_DOWN_SECONDS ?? 30) * 1000);
      if (next !== circuit) this.write(route, next);
      answer[route] = !admitted ? "open" : next.state === "closed" ? "closed" : "probe";
    }
    return answer;
  }

  /** What each send on a route showed, in order: `healthy` false counts toward opening, true closes. */
  async report(observations: Array<{ route: string; healthy: boolean }>, now = Date.now()): Promise<void> {
    for (const { route, healthy } of observations) {
      const circuit = this.read(route);
      const next = observe(circuit, healthy, now);
      if (next !== circuit) this.write(route, next);
    }
  }

  /** The circuits as the API shows them (a route never reported on is closed). */
  async view(routes: string[]): Promise<Record<string, Circuit>> {
    return Object.fromEntries(routes.map((route) => [route, this.read(route)]));
  }

  private read(route: string): Circuit {
    const row = this.sql.exec<CircuitRow>(`SELECT * FROM circuit WHERE route = ?`, route).toArray()[0];
    return row ? { state: row.state, failures: row.failures, openedAt: row.opened_at, probeUntil: row.probe_until } : closedCircuit;
  }

  private write(route: string, c: Circuit): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO circuit (route, state, failures, opened_at, probe_until) VALUES (?, ?, ?, ?, ?)`,
      route,
      c.state,
      c.failures,
      c.openedAt,
      c.probeUntil,
    );
  }
}
