/**
 * Gathers what arrives together into one call: items submitted within `lingerMs` of the first
 * go out as one batch (at most `maxItems` items and `maxBytes` bytes; an item over `maxBytes`
 * goes alone), and each submitter gets its own item's answer. A batch whose call fails gives
 * every item in it the `failed` answer, so no caller is ever left without one.
 */
export type BatchLimits = { maxItems: number; maxBytes: number; lingerMs: number };

type Waiting<T, A> = { item: T; resolve: (answer: A) => void };

export class Batcher<T, A> {
  readonly #call: (items: T[]) => Promise<A[]>;
  readonly #failed: (error: unknown) => A;
  readonly #limits: BatchLimits;
  #waiting: Array<Waiting<T, A>> = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(call: (items: T[]) => Promise<A[]>, failed: (error: unknown) => A, limits: BatchLimits) {
    this.#call = call;
    this.#failed = failed;
    this.#limits = limits;
  }

  submit(item: T, bytes: number): Promise<A> {
    return new Promise((resolve) => {
      if (this.#waiting.length > 0 && this.#bytes + bytes > this.#limits.maxBytes) this.flush();
      this.#waiting.push({ item, resolve });
      this.#bytes += bytes;
      if (this.#waiting.length >= this.#limits.maxItems || this.#bytes >= this.#limits.maxBytes) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#limits.lingerMs);
    });
  }

  /** Sends what is waiting now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    if (batch.length === 0) return;
    this.#call(batch.map((w) => w.item)).then(
      (answers) => {
        for (const [i, w] of batch.entries())
          w.resolve(answers[i] ?? this.#failed(new Error(`no answer for item ${i} of ${batch.length}`)));
      },
      (error: unknown) => {
        for (const w of batch) w.resolve(this.#failed(error));
      },
    );
  }
}
