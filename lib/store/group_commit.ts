/**
 * Group commit: writes submitted while the previous batch was being committed share the next
 * transaction, so one fsync covers many writes and durability does not cost throughput.
 *
 * @module
 */

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (outcome: O) => void;
  readonly reject: (error: unknown) => void;
}

/** Batches items into calls of `commit`, which must return one outcome per item, in order. */
export class GroupCommit<I, O> {
  #queue: Pending<I, O>[] = [];
  #scheduled = false;
  #idle = Promise.resolve();
  #markIdle: (() => void) | undefined;

  constructor(
    private readonly commit: (items: readonly I[]) => O[],
    private readonly maxBatch = 512,
    /** Called after each batch with its size and commit time, for metrics. */
    private readonly observe: (size: number, milliseconds: number) => void = () => {},
  ) {}

  /** Queues `item`; resolves once the transaction holding it has committed. */
  submit(item: I): Promise<O> {
    const { promise, resolve, reject } = Promise.withResolvers<O>();
    this.#queue.push({ item, resolve, reject });
    this.#schedule();
    return promise;
  }

  /** Resolves when every submitted item has been committed (or rejected). */
  drained(): Promise<void> {
    return this.#idle;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (!this.#markIdle) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#idle = promise;
      this.#markIdle = resolve;
    }
    // A macrotask, not a microtask: requests that arrived meanwhile get parsed and join the batch.
    setTimeout(() => this.#flush(), 0);
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue.splice(0, this.maxBatch);
    if (batch.length > 0) this.#commitBatch(batch);
    if (this.#queue.length > 0) return this.#schedule();
    this.#markIdle?.();
    this.#markIdle = undefined;
  }

  #commitBatch(batch: readonly Pending<I, O>[]): void {
    const started = performance.now();
    let outcomes: O[];
    try {
      outcomes = this.commit(batch.map((pending) => pending.item));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.observe(batch.length, performance.now() - started);
    batch.forEach((pending, i) => pending.resolve(outcomes[i]!));
  }
}
