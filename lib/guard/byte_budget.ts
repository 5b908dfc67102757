/**
 * One global budget for bytes that clients make the relay hold in memory at once: request bodies
 * being read and sends waiting for their commit, over HTTP and sockets alike, of which one client
 * address may hold a share (a quarter, or one largest envelope if more), so one flooding client
 * cannot take it all. Beyond it, or while the memory valve says the process is short of memory,
 * new work is refused with 503 `busy` and `Retry-After`, instead of growing until the kernel kills the
 * process.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

function busy(scope: string): ProtocolError {
  return new ProtocolError(
    "busy",
    `The relay holds its limit of request bytes in memory${scope}; retry shortly`,
    { retryAfter: 1 },
  );
}

function shortOfMemory(): ProtocolError {
  return new ProtocolError("busy", "The relay is short of memory; retry shortly", {
    retryAfter: 1,
  });
}

/** Bytes held for one request or one socket send; released all at once. */
export interface BudgetHold {
  /**
   * Holds `bytes` more.
   *
   * @throws {ProtocolError} `busy` when the budget cannot take them; nothing more is held then.
   */
  take(bytes: number): void;
  /** Gives back everything this hold took. Safe to call more than once. */
  release(): void;
}

/** The relay's budget of client bytes in memory, with a share per client address. */
export class ByteBudget {
  #used = 0;
  readonly #byAddress = new Map<string, number>();
  /** Most bytes one client address may hold. */
  readonly perAddress: number;

  constructor(
    /** Most bytes held at once. */
    readonly capacity: number,
    private readonly options: {
      /** Most bytes one client address may hold (default: a quarter of the capacity). */
      readonly perAddress?: number;
      /** Whether the process is short of memory (`memory_valve.ts`): then nothing more fits. */
      readonly underPressure?: (() => boolean) | undefined;
      /** Called each time the budget refuses bytes, for metrics. */
      readonly onRefused?: () => void;
      /** Called with the bytes of each grant: client data now in memory. */
      readonly onTaken?: (bytes: number) => void;
    } = {},
  ) {
    this.perAddress = Math.min(capacity, options.perAddress ?? Math.ceil(capacity / 4));
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /**
   * The refusal a request for `bytes` more would get now from the budget as a whole (the share of
   * its address aside), or undefined if they would fit.
   */
  refusal(bytes: number): ProtocolError | undefined {
    if (this.options.underPressure?.()) return shortOfMemory();
    return this.#used + bytes > this.capacity ? busy("") : undefined;
  }

  /** A new, empty hold on the budget for a request or send from `address` (an address key). */
  hold(address: string): BudgetHold {
    let held = 0;
    return {
      take: (bytes) => {
        const fromAddress = this.#byAddress.get(address) ?? 0;
        const refusal = this.refusal(bytes) ??
          (fromAddress + bytes > this.perAddress ? busy(" for this address") : undefined);
        if (refusal) {
          this.options.onRefused?.();
          throw refusal;
        }
        this.#used += bytes;
        this.#byAddress.set(address, fromAddress + bytes);
        held += bytes;
        this.options.onTaken?.(bytes);
      },
      release: () => {
        if (held === 0) return;
        this.#used -= held;
        const left = this.#byAddress.get(address)! - held;
        if (left === 0) this.#byAddress.delete(address);
        else this.#byAddress.set(address, left);
        held = 0;
      },
    };
  }
}
