import { DurableObject } from "cloudflare:workers";
import { grantLease, type Lease, type Window } from "../core/config/rate.ts";

/**
 * One API key's request budget (named `account:limit:keyId`). In memory only: a limiter that
 * restarts forgets at most one second of counting, which is not worth a write per lease.
 */
export class LimiterDO extends DurableObject<Env> {
  private window: Window = { start: 0, granted: 0 };

  async lease(ratePerSecond: number, want: number): Promise<Lease> {
    const { window, lease } = grantLease(this.window, Date.now(), ratePerSecond, want);
    this.window = window;
    return lease;
  }
}
