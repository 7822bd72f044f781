// Bounded memory for the simulators' bookkeeping (seen tokens, throttled recipients): a
// long-running dev sandbox must not grow without bound, and the oldest entries matter least.

const DEFAULT_CAP = 10_000;

export class CappedMap<K, V> extends Map<K, V> {
  readonly #cap: number;

  constructor(cap: number = DEFAULT_CAP) {
    super();
    this.#cap = cap;
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    // Maps iterate in insertion order, so the first key is the oldest.
    if (this.size > this.#cap) this.delete(this.keys().next().value as K);
    return this;
  }
}

export class CappedSet<T> extends Set<T> {
  readonly #cap: number;

  constructor(cap: number = DEFAULT_CAP) {
    super();
    this.#cap = cap;
  }

  override add(value: T): this {
    super.add(value);
    if (this.size > this.#cap) this.delete(this.values().next().value as T);
    return this;
  }
}
