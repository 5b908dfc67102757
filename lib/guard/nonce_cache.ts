/**
 * The replay cache: nonces of accepted signatures, remembered until the signature could no
 * longer be accepted, bounded per vault and in total.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { SIGNATURE_WINDOW_SECONDS } from "../protocol/signature_base.ts";

/** How long a nonce must be remembered: a signature is accepted until created + window, and
 * created >= now - window, so twice the window (plus a second of rounding). */
const NONCE_HORIZON_MS = 2 * SIGNATURE_WINDOW_SECONDS * 1000 + 1000;

/** Capacities of a {@linkcode NonceCache}. */
export interface NonceCapacity {
  /** Nonces remembered for one vault: its sustained rate is this / 121 s. */
  readonly perVault: number;
  /** Nonces remembered for requests from one client address (IPv4 address or IPv6 /64). */
  readonly perAddress: number;
  /** Nonces remembered in all. */
  readonly total: number;
}

/** A nonce to remember: whose it is and where the request came from. */
export interface NonceUse {
  readonly vaultId: string;
  readonly nonce: string;
  /** The client's address key (see `addressKey`). */
  readonly address: string;
}

function cacheFull(scope: string): ProtocolError {
  return new ProtocolError(
    "replay_cache_full",
    `The relay is verifying too many signed requests ${scope} right now; retry shortly`,
    { retryAfter: 5 },
  );
}

/**
 * Remembers nonces of accepted signatures until they can no longer be replayed. Bounded per
 * vault and per client address, so neither one vault's traffic nor one client generating keys
 * can crowd out the others, and in total; when full, requests are turned away (429) rather than
 * forgetting a live nonce, which would allow a replay.
 */
export class NonceCache {
  readonly #byVault = new Map<string, Set<string>>();
  readonly #byAddress = new Map<string, number>();
  /** Every remembered nonce in insertion order, which is also expiry order (fixed horizon). */
  #queue: (NonceUse & { readonly expiry: number })[] = [];
  #head = 0;

  constructor(
    private readonly clock: Clock,
    readonly capacity: NonceCapacity,
  ) {}

  /**
   * Records a nonce for its vault; false if it was already seen.
   *
   * @throws {ProtocolError} 429 `replay_cache_full` when the vault, the address or the cache
   * holds its share.
   */
  remember(use: NonceUse): boolean {
    const now = this.clock.now();
    this.#forgetExpired(now);
    const { vaultId, nonce, address } = use;
    let nonces = this.#byVault.get(vaultId);
    if (nonces?.has(nonce)) return false;
    if ((nonces?.size ?? 0) >= this.capacity.perVault) throw cacheFull("for this vault");
    const fromAddress = this.#byAddress.get(address) ?? 0;
    if (fromAddress >= this.capacity.perAddress) throw cacheFull("from this address");
    if (this.size >= this.capacity.total) throw cacheFull("");
    if (!nonces) {
      nonces = new Set();
      this.#byVault.set(vaultId, nonces);
    }
    nonces.add(nonce);
    this.#byAddress.set(address, fromAddress + 1);
    this.#queue.push({ expiry: now + NONCE_HORIZON_MS, vaultId, nonce, address });
    return true;
  }

  /** How many nonces are remembered. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  #forgetExpired(now: number): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.expiry <= now) {
      const { vaultId, nonce, address } = this.#queue[this.#head++]!;
      const nonces = this.#byVault.get(vaultId);
      nonces?.delete(nonce);
      if (nonces?.size === 0) this.#byVault.delete(vaultId);
      const left = this.#byAddress.get(address)! - 1;
      if (left === 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
