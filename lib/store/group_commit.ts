/**
 * Group commit: writes submitted while the previous batch was being committed share the next
 * transaction, so one fsync covers many writes and durability does not cost throughput. A batch
 * is bounded in items and in bytes.
 *
 * @module
 */

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (outcome: O) => void;
  readonly reject: (error: unknown) => void;
}

/** Bounds and observers of a {@linkcode GroupCommit}. */
export interface GroupCommitOptions<I> {
  /** Most items in one batch. */
  readonly maxItems: number;
  /** Most bytes (by `sizeOf`) in one batch; a single larger item still goes alone. */
  readonly maxBytes: number;
  /** The size of an item in bytes. */
  readonly sizeOf: (item: I) => number;
  /** Called after each batch with its size and commit time, for metrics. */
  readonly observe?: ((size: number, milliseconds: number) => void) | undefined;
}

/**
 * Batches items into calls of `commit`, which returns one outcome per item, in order: a value
 * resolves that item's promise, an `Error` rejects it. A throw rejects the whole batch.
 */
export class GroupCommit<I, O> {
  #queue: Pending<I, O>[] = [];
  #scheduled = false;
  #idle = Promise.resolve();
  #markIdle: (() => void) | undefined;

  constructor(
    private readonly commit: (items: readonly I[]) => (O | Error)[],
    private readonly options: GroupCommitOptions<I>,
  ) {}

  /** Queues `item`; resolves once the transaction holding it has committed. */
  submit(item: I): Promise<O> {
    const { promise, resolve, reject } = Promise.withResolvers<O>();
    this.#queue.push({ item, resolve, reject });
    this.#schedule();
    return promise;
  }

  /** Items waiting for a transaction. */
  get pending(): number {
    return this.#queue.length;
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
    const batch = this.#queue.splice(0, this.#batchLength());
    if (batch.length > 0) this.#commitBatch(batch);
    if (this.#queue.length > 0) return this.#schedule();
    this.#markIdle?.();
    this.#markIdle = undefined;
  }

  /** How many queued items the next batch takes: within both bounds, and at least one. */
  #batchLength(): number {
    const { maxItems, maxBytes, sizeOf } = this.options;
    let bytes = 0;
    let count = 0;
    for (const pending of this.#queue) {
      bytes += sizeOf(pending.item);
      if (count >= maxItems || (count > 0 && bytes > maxBytes)) break;
      count++;
    }
    return count;
  }

  #commitBatch(batch: readonly Pending<I, O>[]): void {
    const started = performance.now();
    let outcomes: (O | Error)[];
    try {
      outcomes = this.commit(batch.map((pending) => pending.item));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.options.observe?.(batch.length, performance.now() - started);
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof Error) pending.reject(outcome);
      else pending.resolve(outcome);
    });
  }
}
