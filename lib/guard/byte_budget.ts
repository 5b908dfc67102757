/**
 * One global budget for bytes that clients make the relay hold in memory at once: request bodies
 * being read and sends waiting for their commit, over HTTP and sockets alike. Beyond it new work
 * is refused with 503 `busy` and `Retry-After`, instead of growing until the kernel kills the
 * process.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

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

/** The relay's budget of client bytes in memory. */
export class ByteBudget {
  #used = 0;

  constructor(
    /** Most bytes held at once. */
    readonly capacity: number,
    /** Called each time the budget refuses bytes, for metrics. */
    private readonly onRefused: () => void = () => {},
  ) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** A new, empty hold on the budget. */
  hold(): BudgetHold {
    let held = 0;
    return {
      take: (bytes) => {
        if (this.#used + bytes > this.capacity) {
          this.onRefused();
          throw new ProtocolError(
            "busy",
            "The relay holds its limit of request bytes in memory; retry shortly",
            { retryAfter: 1 },
          );
        }
        this.#used += bytes;
        held += bytes;
      },
      release: () => {
        this.#used -= held;
        held = 0;
      },
    };
  }
}
