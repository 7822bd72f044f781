import type { SendOutcome } from "../core/outcome.ts";
import { routeHealthy } from "../core/routes.ts";
import type { Admission } from "./circuit.ts";
import { circuitStub } from "./stubs.ts";

type Channel = "email" | "sms";

/**
 * One batch's view of route circuits: each account's admissions read once before the batch
 * (`open`), answered from memory while it sends, and what the sends showed written back once
 * after it (`report`). A half-open circuit's probe is spent by the first job that takes it.
 * If the CircuitDO cannot be reached the batch sends as if every circuit were closed: a
 * circuit saves a down provider some requests, and is never a reason to hold mail.
 */
export class CircuitGate {
  private readonly admissions = new Map<string, Record<string, Admission>>();
  private readonly observed = new Map<string, Array<{ route: string; healthy: boolean }>>();
  private readonly env: Pick<Env, "CIRCUITS">;
  private readonly channel: Channel;

  private constructor(env: Pick<Env, "CIRCUITS">, channel: Channel) {
    this.env = env;
    this.channel = channel;
  }

  /** `routes`: per account, the names of its routes on this channel (only accounts with a route to fail over to). */
  static async open(env: Pick<Env, "CIRCUITS">, channel: Channel, routes: ReadonlyMap<string, readonly string[]>): Promise<CircuitGate> {
    const gate = new CircuitGate(env, channel);
    await Promise.all(
      [...routes].map(async ([account, names]) => {
        try {
          gate.admissions.set(account, (await circuitStub(env, account, channel).admit([...names])) as Record<string, Admission>);
        } catch (err) {
          console.error(
            JSON.stringify({ msg: "reading route circuits failed; sending as if closed", account, channel, error: String(err) }),
          );
        }
      }),
    );
    return gate;
  }

  admits(account: string, route: string): boolean {
    const of = this.admissions.get(account);
    const admission = of?.[route];
    if (admission === "probe") of![route] = "open";
    return admission !== "open";
  }

  observe(account: string, route: string, outcome: SendOutcome): void {
    if (!this.admissions.has(account)) return;
    const healthy = routeHealthy(outcome);
    if (healthy === null) return;
    const list = this.observed.get(account) ?? [];
    list.push({ route, healthy });
    this.observed.set(account, list);
  }

  /** Writes what the batch showed; a failure to write is logged (the next batch learns again). */
  async report(): Promise<void> {
    await Promise.all(
      [...this.observed].map(async ([account, observations]) => {
        try {
          await circuitStub(this.env, account, this.channel).report(observations);
        } catch (err) {
          console.error(JSON.stringify({ msg: "reporting route circuits failed", account, channel: this.channel, error: String(err) }));
        }
      }),
    );
  }
}
