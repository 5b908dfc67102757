/**
 * Frees dead buffers at the pace the relay makes them. Every socket frame received or sent,
 * request body and backlog page is an `ArrayBuffer` outside the JavaScript heap (or a copy in the
 * runtime's own memory), and V8 collects them only when its heap fills, so a fast stream, or many
 * readers being pushed a backlog, leaves tens of MiB of dead buffers between two collections,
 * and the C heap keeps their high-water mark. A young-generation collection after every few MiB
 * moved keeps that pile to about their size, for a few percent of the CPU (docs/BENCHMARKS.md,
 * "Scavenge pacing").
 *
 * It needs V8's `gc` function, which the start task (and so the release binaries) exposes with
 * `--v8-flags=--expose-gc`; run any other way, the pacer does nothing.
 *
 * @module
 */

/** Runs a young-generation collection now. */
export type Scavenge = () => void;

/** A V8 collection of `type` (young generation, or full) when `--expose-gc` is on, else `undefined`. */
export function exposedCollection(type: "minor" | "major"): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options: object) => void }).gc;
  return gc && (() => gc({ type, execution: "sync" }));
}

/** V8's young-generation collection when `--expose-gc` is on, else `undefined`. */
export function exposedScavenge(): Scavenge | undefined {
  return exposedCollection("minor");
}

/** Counts bytes as buffers are made and scavenges once `everyBytes` were made since the last. */
export class ScavengePacer {
  #everyBytes = 0;
  #scavenge: Scavenge | undefined;
  #onScavenged: () => void = () => {};
  #since = 0;
  #scavenges = 0;

  /**
   * Sets the pace: `everyBytes` (0 = off) between two collections, run by `scavenge` (default:
   * V8's, when exposed; `null` for none), each reported to `onScavenged`.
   */
  configure(
    everyBytes: number,
    options: { scavenge?: Scavenge | null; onScavenged?: () => void } = {},
  ): void {
    this.#everyBytes = everyBytes;
    this.#scavenge = options.scavenge === undefined
      ? exposedScavenge()
      : options.scavenge ?? undefined;
    this.#onScavenged = options.onScavenged ?? (() => {});
    this.#since = 0;
  }

  /** Whether it runs: a collector is there and a pace is set. */
  get isActive(): boolean {
    return this.#scavenge !== undefined && this.#everyBytes > 0;
  }

  /** Scavenges run so far. */
  get scavenges(): number {
    return this.#scavenges;
  }

  /** Counts `bytes` of buffers just made (received, encoded or queued to send). */
  made(bytes: number): void {
    if (!this.isActive) return;
    this.#since += bytes;
    if (this.#since < this.#everyBytes) return;
    this.#since = 0;
    this.#scavenges++;
    this.#scavenge!();
    this.#onScavenged();
  }
}

/**
 * The process's pacer: the heap is the process's, so there is one, which the relay configures
 * when it starts (`memory.scavengeEveryBytes`). Off until then.
 */
export const scavenging = new ScavengePacer();
