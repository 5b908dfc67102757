/**
 * Stop signals, counted the way an operator means them.
 *
 * One Ctrl-C can arrive as several signals: the terminal sends SIGINT to the whole foreground
 * process group (npx, `deno task`, the relay), and `deno task` forwards the SIGINT it receives to
 * the relay as well, so the relay often gets two within a millisecond. Likewise a service manager
 * that signals every process of the group delivers SIGTERM directly and again through
 * `deno task`. Signals within {@linkcode SIGNAL_GRACE_MS} of the first therefore count as the same
 * request; a signal after that is a deliberate second request and forces the exit.
 *
 * @module
 */

/** How long after the first stop signal further signals count as the same request. */
export const SIGNAL_GRACE_MS = 2000;

/** The signals that stop the relay on this platform (Ctrl-C and Ctrl-Break on Windows). */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/** What a stop signal means at the moment it arrives. */
export type SignalVerdict = "stop" | "repeat" | "force";

/**
 * Classifies stop signals: the first means stop gracefully, any within the grace period after it
 * is a repeat of the same request, and a later one forces the exit.
 *
 * @example
 * ```ts
 * const count = new SignalCounter({ now: () => 0 });
 * count.next(); // "stop"
 * count.next(); // "repeat" (same millisecond: the terminal and `deno task` both sent it)
 * ```
 */
export class SignalCounter {
  #first: number | undefined;
  readonly #graceMs: number;
  readonly #now: () => number;

  /** A counter with the given grace period (default {@linkcode SIGNAL_GRACE_MS}) and clock. */
  constructor(options: { graceMs?: number; now?: () => number } = {}) {
    this.#graceMs = options.graceMs ?? SIGNAL_GRACE_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The verdict for a signal arriving now. */
  next(): SignalVerdict {
    const now = this.#now();
    if (this.#first === undefined) {
      this.#first = now;
      return "stop";
    }
    return now - this.#first < this.#graceMs ? "repeat" : "force";
  }
}

/** Callbacks of {@linkcode onStopSignals}. */
export interface StopSignalHandlers {
  /** The first stop signal: stop gracefully. */
  readonly stop: (signal: Deno.Signal) => void;
  /** A signal within the grace period of the first: nothing to do but perhaps say so. */
  readonly repeat?: (signal: Deno.Signal) => void;
  /** A deliberate second signal: exit now. */
  readonly force: (signal: Deno.Signal) => void;
}

/**
 * Listens for {@linkcode STOP_SIGNALS} and calls the handler for each signal's verdict. Disposing
 * removes the listeners.
 */
export function onStopSignals(
  handlers: StopSignalHandlers,
  options: { graceMs?: number } = {},
): Disposable {
  const counter = new SignalCounter(options);
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      const verdict = counter.next();
      if (verdict === "stop") handlers.stop(signal);
      else if (verdict === "repeat") handlers.repeat?.(signal);
      else handlers.force(signal);
    };
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  return {
    [Symbol.dispose]: () => {
      for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}
