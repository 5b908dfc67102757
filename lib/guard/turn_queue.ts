/**
 * A queue that lets its waiters go a few at a time, one batch per turn of the event loop: work
 * that waits in it yields to everything else that is ready (I/O completions, other requests).
 *
 * @module
 */

/** Lets waiters go `perTurn` at a time, one batch per turn of the event loop (a timer). */
export class TurnQueue {
  #waiting: (() => void)[] = [];
  #scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves on a later turn, after the waiters queued before it. */
  turn(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push(resolve);
    this.#schedule();
    return promise;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      for (const resolve of this.#waiting.splice(0, this.perTurn)) resolve();
      if (this.#waiting.length > 0) this.#schedule();
    }, 0);
  }
}
