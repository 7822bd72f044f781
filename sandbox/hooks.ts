// The sandbox's webhook receiver: named hooks that keep every delivery as it arrived and answer
// as told, so lasthop's outbound event stream (or any sender) can be read back byte for byte and
// met with failures, redirects, throttling and hangs. No HTTP here: hook-routes.ts reads the
// request, waits and writes the answer; this file keeps the hooks, their arrivals and behaviours.
//
// Arrivals are recorded when they arrive (the body read), with `status: null`; the status is
// filled in when the answer is written. A delivery held by delayMs is therefore visible while it
// waits, and one whose client leaves first keeps `status: null` and gets `aborted: true`: it was
// never answered, so nothing records it as a success.

/** A name a caller may give: it is a path segment of the receiving URL. */
export const HOOK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** The hook a hook's 3xx points at: `<name>.redirected` (no caller's name has a dot, so none collides). */
export const REDIRECT_SUFFIX = ".redirected";

export const DEFAULT_HOOK_LIMITS: HookLimits = {
  maxHooks: 1_000,
  maxArrivals: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxBehaviours: 100,
};

export type HookLimits = {
  /** Hooks the store holds; creating one more is refused (HookLimitError). */
  maxHooks: number;
  /** Arrivals kept per hook; past it the hook's oldest goes. */
  maxArrivals: number;
  /** Bytes kept over all hooks (bodies, headers, and a fixed overhead per arrival); past it the oldest arrival anywhere goes. */
  maxBytes: number;
  /** Behaviours queued per hook; posting one more is refused (HookLimitError). */
  maxBehaviours: number;
};

export type Arrival = {
  /** When the body had been read, ISO 8601. */
  at: string;
  method: string;
  /** The query string as sent ("?a=b"), "" when none. */
  query: string;
  /** Lower-case names; a repeated header's values joined with ", " (as HTTP folds them). */
  headers: Record<string, string>;
  /** The raw body as UTF-8 text (for a 413, its first MAX_HOOK_BODY bytes). */
  body: string;
  /** What was answered; null until the answer is written, and for good when the client left first. */
  status: number | null;
  /** How long the answer was held. */
  delayMs: number;
  /** True when the client disconnected before the answer: nothing was answered. */
  aborted: boolean;
};

/** One queued behaviour (see HookStore.behave for the queue's rules). */
export type Behaviour = {
  status: number;
  /** Deliveries it still answers; null: every delivery until another behaviour is posted. */
  remaining: number | null;
  delayMs: number;
  retryAfter: string | null;
  body: string | null;
};

export type BehaviourInput = { status: number; times?: number; delayMs?: number; retryAfter?: string; body?: string };

/** What to answer a delivery, after waiting delayMs. */
export type Answer = { status: number; delayMs: number; headers: Record<string, string>; body: string | null };

/** A validation problem, in the shape of lasthop's error details. */
export type Detail = { path: string; message: string };

/** A cap was reached; `code` says which (the routes answer 409 with it). */
export class HookLimitError extends Error {
  readonly code: "too_many_hooks" | "too_many_behaviours";

  constructor(code: HookLimitError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export const MAX_DELAY_MS = 120_000;
export const MAX_TIMES = 1_000_000;
// Within the control API's 16 KiB request bodies, with room for the rest of the behaviour.
const MAX_RESPONSE_BODY = 8 * 1024;
/** Counted per arrival besides its bytes, so many empty deliveries are bounded too. */
const ARRIVAL_OVERHEAD = 256;

type Hook = { name: string; arrivals: Array<{ arrival: Arrival; size: number; seq: number }>; behaviours: Behaviour[] };

export class HookStore {
  readonly #limits: HookLimits;
  readonly #hooks = new Map<string, Hook>();
  #origin = "http://sandbox.invalid";
  #bytes = 0;
  #seq = 0;

  constructor(limits: Partial<HookLimits> = {}) {
    this.#limits = { ...DEFAULT_HOOK_LIMITS, ...limits };
  }

  /** The control server's origin, known once it listens: receiving URLs and 3xx locations name it. */
  setOrigin(origin: string): void {
    this.#origin = origin;
  }

  urlOf(name: string): string {
    return `${this.#origin}/_sandbox/hooks/${name}`;
  }

  has(name: string): boolean {
    return this.#hooks.has(name);
  }

  /** Makes a hook, or finds the one of that name (its arrivals and behaviours kept). Throws HookLimitError when full. */
  create(name: string): { created: boolean; name: string; url: string } {
    if (this.#hooks.has(name)) return { created: false, name, url: this.urlOf(name) };
    if (this.#hooks.size >= this.#limits.maxHooks) {
      throw new HookLimitError("too_many_hooks", `the sandbox holds ${this.#limits.maxHooks} hooks, its most`);
    }
    this.#hooks.set(name, { name, arrivals: [], behaviours: [] });
    return { created: true, name, url: this.urlOf(name) };
  }

  list(): Array<{ name: string; url: string; received: number; waiting: number; behaviours: Behaviour[] }> {
    return [...this.#hooks.values()].map((hook) => ({
      name: hook.name,
      url: this.urlOf(hook.name),
      received: hook.arrivals.length,
      waiting: hook.arrivals.filter(({ arrival }) => arrival.status === null && !arrival.aborted).length,
      behaviours: hook.behaviours.map((b) => ({ ...b })),
    }));
  }

  /**
   * Records a delivery and takes the behaviour that answers it (see behave). `oversized`: the
   * body was cut, and the answer is 413 whatever the queue says (the queue is left as it was).
   * undefined for an unknown hook.
   */
  arrive(
    name: string,
    request: { method: string; query: string; headers: Record<string, string>; body: string; oversized?: boolean },
  ): { arrival: Arrival; answer: Answer } | undefined {
    const hook = this.#hooks.get(name);
    if (!hook) return undefined;
    const answer = request.oversized ? tooLarge() : this.#next(hook);
    const arrival: Arrival = {
      at: new Date().toISOString(),
      method: request.method,
      query: request.query,
      headers: request.headers,
      body: request.body,
      status: null,
      delayMs: answer.delayMs,
      aborted: false,
    };
    this.#keep(hook, arrival);
    return { arrival, answer };
  }

  /** The answer went out with `status`. */
  answered(arrival: Arrival, status: number): void {
    arrival.status = status;
  }

  /** The client left before the answer. */
  abandoned(arrival: Arrival): void {
    arrival.aborted = true;
  }

  /** A hook's arrivals, oldest first (copies); undefined for an unknown hook. */
  received(name: string): Arrival[] | undefined {
    return this.#hooks.get(name)?.arrivals.map(({ arrival }) => ({ ...arrival, headers: { ...arrival.headers } }));
  }

  /** Forgets a hook's arrivals; false for an unknown hook. */
  clear(name: string): boolean {
    const hook = this.#hooks.get(name);
    if (!hook) return false;
    for (const kept of hook.arrivals) this.#bytes -= kept.size;
    hook.arrivals = [];
    return true;
  }

  /**
   * Queues a behaviour; answers the queue. The queue's rules:
   * - Each delivery, when it arrives (in arrival order), is answered by the behaviour at the head
   *   of the queue. One posted with `times` answers that many deliveries and then leaves the
   *   queue; one posted without `times` is open-ended: it stays at the head and answers every
   *   delivery. An empty queue answers 200 {"ok":true}.
   * - Posting appends to the queue, after dropping an open-ended behaviour at its tail (there is
   *   at most one, always last): open-ended means "until changed", and a new post is the change.
   * So {500, times:3} then {200} answers 500, 500, 500, then 200 for ever; {503} then, later,
   * {410, times:1} answers 503 until the second post, then 410 once, then 200; {500, times:2},
   * {429, times:1} answers 500, 500, 429, then 200. A delivery held by delayMs has already taken
   * its step: the next delivery takes the next one at once. clearBehaviours empties the queue.
   * A 3xx also makes the hook `<name>.redirected` (its location), so a client that follows is
   * caught there. undefined for an unknown hook; throws HookLimitError when the queue (or, for a
   * 3xx's target, the hook list) is full.
   */
  behave(name: string, input: BehaviourInput): Behaviour[] | undefined {
    const hook = this.#hooks.get(name);
    if (!hook) return undefined;
    const queue = hook.behaviours;
    const openEnded = queue.at(-1)?.remaining === null;
    if (queue.length - (openEnded ? 1 : 0) >= this.#limits.maxBehaviours) {
      throw new HookLimitError("too_many_behaviours", `hook ${name} has ${this.#limits.maxBehaviours} behaviours queued, its most`);
    }
    if (isRedirect(input.status)) this.create(redirectTarget(name));
    if (openEnded) queue.pop();
    queue.push({
      status: input.status,
      remaining: input.times ?? null,
      delayMs: input.delayMs ?? 0,
      retryAfter: input.retryAfter ?? null,
      body: input.body ?? null,
    });
    return this.behaviours(name);
  }

  behaviours(name: string): Behaviour[] | undefined {
    return this.#hooks.get(name)?.behaviours.map((b) => ({ ...b }));
  }

  /** Empties the queue: 200 from the next delivery on. false for an unknown hook. */
  clearBehaviours(name: string): boolean {
    const hook = this.#hooks.get(name);
    if (!hook) return false;
    hook.behaviours = [];
    return true;
  }

  /** Takes the head of the queue for one delivery. */
  #next(hook: Hook): Answer {
    const head = hook.behaviours[0];
    if (!head) return { status: 200, delayMs: 0, headers: { "content-type": "application/json; charset=utf-8" }, body: '{"ok":true}' };
    if (head.remaining !== null && --head.remaining === 0) hook.behaviours.shift();
    const headers: Record<string, string> = {};
    if (head.retryAfter !== null) headers["retry-after"] = head.retryAfter;
    if (isRedirect(head.status)) headers.location = this.urlOf(redirectTarget(hook.name));
    const body = bodyless(head.status) ? null : (head.body ?? JSON.stringify({ ok: head.status >= 200 && head.status < 300 }));
    if (body !== null) headers["content-type"] = isJson(body) ? "application/json; charset=utf-8" : "text/plain; charset=utf-8";
    return { status: head.status, delayMs: head.delayMs, headers, body };
  }

  #keep(hook: Hook, arrival: Arrival): void {
    let size = ARRIVAL_OVERHEAD + Buffer.byteLength(arrival.body);
    for (const [key, value] of Object.entries(arrival.headers)) size += key.length + value.length;
    hook.arrivals.push({ arrival, size, seq: this.#seq++ });
    this.#bytes += size;
    if (hook.arrivals.length > this.#limits.maxArrivals) this.#bytes -= hook.arrivals.shift()!.size;
    // Over the byte budget: the oldest arrival anywhere goes (the newest is always kept).
    while (this.#bytes > this.#limits.maxBytes) {
      let oldest: Hook | undefined;
      for (const candidate of this.#hooks.values()) {
        const first = candidate.arrivals[0];
        if (first && (!oldest || first.seq < oldest.arrivals[0]!.seq)) oldest = candidate;
      }
      if (!oldest || (oldest === hook && hook.arrivals.length === 1)) break;
      this.#bytes -= oldest.arrivals.shift()!.size;
    }
  }
}

export function redirectTarget(name: string): string {
  return `${name}${REDIRECT_SUFFIX}`;
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** Statuses HTTP answers without a body (a 1xx as a final answer is a broken receiver, and left so). */
function bodyless(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

function tooLarge(): Answer {
  return { status: 413, delayMs: 0, headers: { "content-type": "application/json; charset=utf-8" }, body: '{"ok":false}' };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A behaviour from its JSON body, or what is wrong with it. */
export function parseBehaviour(input: Record<string, unknown>): BehaviourInput | Detail[] {
  const details: Detail[] = [];
  const { status, times, delayMs, retryAfter, body } = input;
  const integer = (value: unknown, min: number, max: number) =>
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
  if (!integer(status, 100, 599)) details.push({ path: "status", message: "status must be an integer from 100 to 599" });
  if (times !== undefined && !integer(times, 1, MAX_TIMES)) {
    details.push({ path: "times", message: `times must be an integer from 1 to ${MAX_TIMES} (leave it out: every delivery)` });
  }
  if (delayMs !== undefined && !integer(delayMs, 0, MAX_DELAY_MS)) {
    details.push({ path: "delayMs", message: `delayMs must be an integer from 0 to ${MAX_DELAY_MS}` });
  }
  // A number of seconds, or any header-safe text (an HTTP-date, or a bad value to see it handled).
  const retryAfterText = typeof retryAfter === "number" && integer(retryAfter, 0, 2 ** 31) ? String(retryAfter) : retryAfter;
  if (retryAfterText !== undefined && (typeof retryAfterText !== "string" || !/^[\x20-\x7e]{1,100}$/.test(retryAfterText))) {
    details.push({ path: "retryAfter", message: "retryAfter must be a number of seconds or 1 to 100 printable ASCII characters" });
  }
  if (body !== undefined && (typeof body !== "string" || Buffer.byteLength(body) > MAX_RESPONSE_BODY)) {
    details.push({ path: "body", message: `body must be a string of at most ${MAX_RESPONSE_BODY} bytes` });
  }
  const known = new Set(["status", "times", "delayMs", "retryAfter", "body"]);
  for (const key of Object.keys(input)) if (!known.has(key)) details.push({ path: key, message: `unknown field ${key}` });
  if (details.length > 0) return details;
  return {
    status: status as number,
    ...(times !== undefined ? { times: times as number } : {}),
    ...(delayMs !== undefined ? { delayMs: delayMs as number } : {}),
    ...(retryAfterText !== undefined ? { retryAfter: retryAfterText as string } : {}),
    ...(body !== undefined ? { body: body as string } : {}),
  };
}
