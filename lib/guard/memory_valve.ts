/**
 * Keeps the relay inside a small memory limit at run time. The budgets in `lib/limits.ts` bound
 * the bytes clients have in flight, but each of them is held several times over (read buffers,
 * copies, garbage not yet collected, free holes in the C heap), and those copies add up when
 * every kind of traffic peaks at once. So, every `checkEveryMs` while the limit is small, the
 * valve reads the process's anonymous memory (what a memory cgroup's OOM killer counts) and
 *
 * - above `trimAboveBytes`: returns the C heap's free pages to the system, after a full
 *   collection once a second (dead buffers that outlived a young collection);
 * - above `refuseAboveBytes` after that: refuses new request bodies and socket sends with 503 /
 *   `busy` (the byte budget asks {@linkcode MemoryValve.underPressure}) until memory falls below
 *   `resumeBelowBytes`, so in-flight work is bounded by memory that is there, not by the kernel.
 *
 * @module
 */

/** What the valve reads and acts on (`native_heap.ts` in the relay; fakes in tests). */
export interface MemoryProbe {
  /** Anonymous resident memory in bytes, or `undefined` if it cannot be read. */
  anonymousBytes(): number | undefined;
  /** Returns free C-heap pages to the system. */
  trim(): void;
}

/** The marks and pace of a {@linkcode MemoryValve} (`limits.memory`). */
export interface ValveLimits {
  readonly checkEveryMs: number;
  readonly trimAboveBytes: number;
  readonly refuseAboveBytes: number;
  readonly resumeBelowBytes: number;
}

/** Checks between two full collections while memory stays above the trim mark (~1 s). */
const COLLECT_EVERY_CHECKS = 10;

/** Measures memory on a timer, trims the heap and says when new work must wait. */
export class MemoryValve {
  #timer: ReturnType<typeof setInterval> | undefined;
  #underPressure = false;
  #highChecks = 0;
  #lastBytes: number | undefined;

  constructor(
    private readonly limits: ValveLimits,
    private readonly probe: MemoryProbe,
    private readonly hooks: {
      /** A full garbage collection (V8's, when exposed). */
      readonly collect?: (() => void) | undefined;
      /** Called with the time each trim took. */
      readonly onTrim?: (milliseconds: number) => void;
    } = {},
  ) {}

  /** Whether new request bodies and socket sends are refused now. */
  get underPressure(): boolean {
    return this.#underPressure;
  }

  /** Anonymous memory at the last check, in bytes. */
  get lastBytes(): number | undefined {
    return this.#lastBytes;
  }

  /** Checks every `checkEveryMs` until {@linkcode close}. */
  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.check(), this.limits.checkEveryMs);
    Deno.unrefTimer(this.#timer);
  }

  /** One check: reads memory, trims above the trim mark, sets or clears the pressure. */
  check(): void {
    let bytes = this.probe.anonymousBytes();
    if (bytes === undefined) return;
    if (bytes >= this.limits.trimAboveBytes) {
      if (this.#highChecks++ % COLLECT_EVERY_CHECKS === 0) this.hooks.collect?.();
      const started = performance.now();
      this.probe.trim();
      this.hooks.onTrim?.(performance.now() - started);
      bytes = this.probe.anonymousBytes() ?? bytes;
    } else {
      this.#highChecks = 0;
    }
    this.#lastBytes = bytes;
    if (bytes >= this.limits.refuseAboveBytes) this.#underPressure = true;
    else if (bytes < this.limits.resumeBelowBytes) this.#underPressure = false;
  }

  /** Stops checking; the pressure is cleared. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#underPressure = false;
  }
}
