/**
 * Long polls are requests that wait, so they hold a slot of the in-flight cap while idle. This
 * table bounds them per client address and per vault (a refusal: 429 `too_many_in_flight`), and
 * in total: at the total, the oldest waiting poll is answered at once with what it has (an empty
 * page), so waiting requests never crowd out new ones.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

/** Bounds of the long-poll table. */
export interface LongPollLimits {
  /** Waiting polls from one client address. */
  readonly perAddress: number;
  /** Waiting polls of one vault. */
  readonly perVault: number;
  /** Waiting polls in all; beyond it the oldest is answered early. */
  readonly total: number;
}

/** A waiting poll: whose it is, and how to answer it early. */
interface Waiter {
  readonly address: string;
  readonly vault: string;
  readonly wake: () => void;
}

function increment(counts: Map<string, number>, key: string, by: number): void {
  const count = (counts.get(key) ?? 0) + by;
  if (count === 0) counts.delete(key);
  else counts.set(key, count);
}

/** The long polls waiting now. */
export class LongPolls {
  readonly #byAddress = new Map<string, number>();
  readonly #byVault = new Map<string, number>();
  /** In arrival order, so the first is the oldest. */
  readonly #waiting = new Set<Waiter>();

  constructor(readonly limits: LongPollLimits, private readonly onRefused = () => {}) {}

  /** Polls waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Registers a waiting poll; `wake` answers it early. Returns the function to call when it is
   * answered, however that happened.
   *
   * @throws {ProtocolError} 429 `too_many_in_flight` beyond the address's or vault's share.
   */
  enter(poll: Waiter): () => void {
    this.#checkShare(this.#byAddress.get(poll.address), this.limits.perAddress, "address");
    this.#checkShare(this.#byVault.get(poll.vault), this.limits.perVault, "vault");
    if (this.#waiting.size >= this.limits.total) this.#wakeOldest();
    const waiter = { ...poll };
    this.#waiting.add(waiter);
    increment(this.#byAddress, poll.address, 1);
    increment(this.#byVault, poll.vault, 1);
    return () => this.#leave(waiter);
  }

  #checkShare(count: number | undefined, limit: number, scope: string): void {
    if ((count ?? 0) < limit) return;
    this.onRefused();
    throw new ProtocolError(
      "too_many_in_flight",
      `This ${scope} already has ${limit} long polls waiting; wait for one to return`,
      { retryAfter: 1, details: { limit, scope: `long_polls_per_${scope}` } },
    );
  }

  #wakeOldest(): void {
    const oldest = this.#waiting.values().next().value;
    if (!oldest) return;
    this.#leave(oldest);
    oldest.wake();
  }

  #leave(waiter: Waiter): void {
    if (!this.#waiting.delete(waiter)) return;
    increment(this.#byAddress, waiter.address, -1);
    increment(this.#byVault, waiter.vault, -1);
  }
}
