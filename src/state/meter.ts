/**
 * Cost instrumentation: counts what the platform bills, as the code runs, so the cost of a
 * message is measured rather than estimated by hand (`bench/cost.ts` reads it). On only where
 * `METER` is "1" (the bench's stack): `metered(env)` then wraps the bindings a handler or a
 * Durable Object uses, and otherwise returns `env` itself, so production pays nothing.
 *
 * What is counted, in the price list's own units:
 * - `worker.<handler>`: Worker invocations (fetch, queue batches, scheduled, email);
 * - `do.<BINDING>`: Durable Object requests (every RPC call is one; `do.<BINDING>.alarm` too),
 *   with `do.<BINDING>.<method>` beside it;
 * - `queue.write` / `queue.read` / `queue.delete`: Queue operations, one per 64 KB of a message;
 * - `subrequest`: outbound fetches (with `subrequest.<host>`);
 * - `sql.read` / `sql.write`: SQLite rows read and written by the objects (`sql.write.<table>`: by table).
 *
 * The counts live in module memory: in one workerd process (wrangler dev) the Worker and its
 * objects share it. They are platform-wide, never per account, and name no recipient.
 */
const counts = new Map<string, number>();

/** Adds to one count. */
export function tally(key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

/** Every count so far (the bench subtracts two snapshots). */
export function meterSnapshot(): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** Whether this deployment meters (`METER` = "1"). */
export function meterOn(env: unknown): boolean {
  return (env as { METER?: string } | undefined)?.METER === "1";
}

/** Queue operations are billed per 64 KB written, read or deleted. */
export const QUEUE_OP_BYTES = 64 * 1024;

export function queueOps(body: unknown): number {
  const size = new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body ?? null)).length;
  return Math.max(1, Math.ceil(size / QUEUE_OP_BYTES));
}

const wrapped = new WeakMap<object, unknown>();

function once<T extends object>(target: T, wrap: (t: T) => T): T {
  let w = wrapped.get(target) as T | undefined;
  if (!w) {
    w = wrap(target);
    wrapped.set(target, w);
  }
  return w;
}

function isNamespace(value: unknown): value is DurableObjectNamespace {
  return typeof value === "object" && value !== null && "idFromName" in value && "get" in value;
}

function isQueue(value: unknown): value is Queue {
  return typeof value === "object" && value !== null && "send" in value && "sendBatch" in value;
}

function meteredStub(binding: string, stub: object): object {
  return new Proxy(stub, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof prop !== "string" || typeof value !== "function" || prop === "then") return value;
      // The RPC promise goes back to the caller as it is: awaiting it in a wrapper of ours broke
      // calls under load in workerd (answers lost), so the time waited is not measured.
      return (...args: unknown[]) => {
        tally(`do.${binding}`);
        tally(`do.${binding}.${prop}`);
        return (target as Record<string, (...a: unknown[]) => unknown>)[prop](...args);
      };
    },
  });
}

function meteredNamespace(binding: string, ns: DurableObjectNamespace): DurableObjectNamespace {
  // A plain object, not a Proxy over the binding: the runtime's own namespace object stays untouched.
  return {
    idFromName: (name: string) => ns.idFromName(name),
    idFromString: (id: string) => ns.idFromString(id),
    newUniqueId: (options?: DurableObjectNamespaceNewUniqueIdOptions) => ns.newUniqueId(options),
    get: (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => meteredStub(binding, ns.get(id, options)),
    getByName: (name: string, options?: DurableObjectNamespaceGetDurableObjectOptions) =>
      meteredStub(binding, ns.get(ns.idFromName(name), options)),
    jurisdiction: (j: DurableObjectJurisdiction) => meteredNamespace(binding, ns.jurisdiction(j)),
  } as unknown as DurableObjectNamespace;
}

function meteredQueue(queue: Queue): Queue {
  return new Proxy(queue, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (prop === "send") {
        return (body: unknown, opts?: unknown) => {
          tally("queue.write", queueOps(body));
          return (target.send as unknown as (b: unknown, o?: unknown) => Promise<unknown>)(body, opts);
        };
      }
      if (prop === "sendBatch") {
        return (messages: Iterable<{ body: unknown }>, opts?: unknown) => {
          const list = [...messages];
          for (const m of list) tally("queue.write", queueOps(m.body));
          return (target.sendBatch as unknown as (m: unknown, o?: unknown) => Promise<unknown>)(list, opts);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

let fetchPatched = false;

/** Outbound fetches are counted where they leave: the global fetch, patched once per isolate. */
function meterFetch(): void {
  if (fetchPatched) return;
  fetchPatched = true;
  const original = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    tally("subrequest");
    try {
      tally(`subrequest.${new URL(input instanceof Request ? input.url : String(input)).host}`);
    } catch {
      // An unparsable URL fails in fetch itself.
    }
    return original(input, init);
  }) as typeof fetch;
}

/** The env with its Durable Object namespaces and Queues counted; `env` itself when metering is off. */
export function metered<E extends object>(env: E): E {
  if (!meterOn(env)) return env;
  meterFetch();
  return once(env, (target) => {
    return new Proxy(target, {
      get(t, prop) {
        const value: unknown = Reflect.get(t, prop);
        if (typeof prop !== "string" || typeof value !== "object" || value === null) return value;
        if (isNamespace(value)) return once<DurableObjectNamespace>(value, (ns) => meteredNamespace(prop, ns));
        if (isQueue(value)) return once<Queue>(value, (q) => meteredQueue(q));
        return value;
      },
    });
  });
}

/**
 * A queue batch as the consumer sees it: an invocation, and per message one read and one
 * delete (the ack) per 64 KB. A retried message is read again later and counted then; the
 * delete it did not get is not taken back here (the bench's runs retry nothing).
 */
export function meterBatch(env: unknown, batch: MessageBatch<unknown>): void {
  if (!meterOn(env)) return;
  tally("worker.queue");
  for (const m of batch.messages) {
    const ops = queueOps(m.body);
    tally("queue.read", ops);
    tally("queue.delete", ops);
  }
}

/** A Durable Object's SQL with the rows it reads and writes counted (read once the statement's cursor is used). */
export function meteredSql(env: unknown, sql: SqlStorage): SqlStorage {
  if (!meterOn(env)) return sql;
  return once(sql, (target) => {
    return new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop);
        if (prop !== "exec") return typeof value === "function" ? value.bind(t) : value;
        return (query: string, ...bindings: unknown[]) => {
          const cursor = t.exec(query, ...bindings);
          // Callers consume a cursor in the same turn (toArray, one) or not at all (writes).
          queueMicrotask(() => {
            tally("sql.read", cursor.rowsRead);
            tally("sql.write", cursor.rowsWritten);
            // Where the writes go, by table (index rows included), for finding what a message costs.
            if (cursor.rowsWritten) tally(`sql.write.${writtenTable(query)}`, cursor.rowsWritten);
          });
          return cursor;
        };
      },
    });
  });
}

/** The table a write statement names (`INSERT … INTO t`, `UPDATE t`, `DELETE FROM t`; `schema.t` for the DDL that makes it), or "other". */
function writtenTable(query: string): string {
  const ddl = /^\s*CREATE\s+(?:TABLE|INDEX)\s+(?:IF NOT EXISTS\s+)?([a-z_]+)/i.exec(query);
  if (ddl) return `schema.${ddl[1]}`;
  return /\b(?:INTO|UPDATE|FROM)\s+([a-z_]+)/i.exec(query)?.[1] ?? "other";
}

/** An alarm invocation is a billed Durable Object request. */
export function meterAlarm(env: unknown, binding: string): void {
  if (!meterOn(env)) return;
  tally(`do.${binding}`);
  tally(`do.${binding}.alarm`);
}
