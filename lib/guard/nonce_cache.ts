/**
 * The replay cache: nonces of accepted signatures, remembered until the signature could no
 * longer be accepted, bounded per vault, per client address and in total.
 *
 * It is the largest table clients can fill (500 000 nonces by default), so it keeps no nonce
 * strings: each nonce is a keyed 64-bit fingerprint of (vault, nonce) in typed arrays. Filled to
 * the default total, it holds 60 bytes a nonce (29 MiB) where a `Set` of strings with a queue of
 * records held 188 (90 MiB): `deno task bench replay-cache`.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { SIGNATURE_WINDOW_SECONDS } from "../protocol/signature_base.ts";

/** How long a nonce must be remembered: a signature is accepted until created + window, and
 * created >= now - window, so twice the window (plus a second of rounding). */
const NONCE_HORIZON_MS = 2 * SIGNATURE_WINDOW_SECONDS * 1000 + 1000;

/** Nonces the ring holds before it first grows, and the least it shrinks back to. */
const INITIAL_CAPACITY = 1024;

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

/** Nonces one vault or one address holds now. */
interface Share {
  readonly key: string;
  count: number;
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
 *
 * Two different nonces are taken for one only if their 64-bit fingerprints collide, which the
 * per-process random key makes a matter of chance (500 000 held: 1 in 3.7·10^13 per request),
 * not of choice: the request is then refused as a replay and the client signs it again.
 */
export class NonceCache {
  readonly #byVault = new Map<string, Share>();
  readonly #byAddress = new Map<string, Share>();
  readonly #seeds = crypto.getRandomValues(new Uint32Array(2));
  #ring: NonceRing;

  constructor(
    private readonly clock: Clock,
    readonly capacity: NonceCapacity,
  ) {
    this.#ring = new NonceRing(Math.min(INITIAL_CAPACITY, Math.max(1, capacity.total)));
  }

  /**
   * Records a nonce for its vault; false if it was already seen.
   *
   * @throws {ProtocolError} 429 `replay_cache_full` when the vault, the address or the cache
   * holds its share.
   */
  remember(use: NonceUse): boolean {
    this.#forgetExpired(this.clock.now());
    const { vaultId, nonce, address } = use;
    const text = `${vaultId}\n${nonce}`;
    const hi = fingerprint(text, this.#seeds[0]!);
    const lo = fingerprint(text, this.#seeds[1]!);
    if (this.#ring.has(hi, lo)) return false;
    const vault = this.#byVault.get(vaultId);
    if ((vault?.count ?? 0) >= this.capacity.perVault) throw cacheFull("for this vault");
    const from = this.#byAddress.get(address);
    if ((from?.count ?? 0) >= this.capacity.perAddress) throw cacheFull("from this address");
    if (this.size >= this.capacity.total) throw cacheFull("");
    if (this.#ring.isFull) {
      this.#ring = this.#ring.resized(Math.min(this.capacity.total, 2 * this.#ring.capacity));
    }
    this.#ring.push(hi, lo, this.clock.now() + NONCE_HORIZON_MS, {
      vault: take(this.#byVault, vault, vaultId),
      address: take(this.#byAddress, from, address),
    });
    return true;
  }

  /** How many nonces are remembered. */
  get size(): number {
    return this.#ring.length;
  }

  /** How many nonces its arrays have room for now: they grow with the traffic and shrink back. */
  get allocated(): number {
    return this.#ring.capacity;
  }

  #forgetExpired(now: number): void {
    for (let shares = this.#ring.shiftExpired(now); shares; shares = this.#ring.shiftExpired(now)) {
      give(this.#byVault, shares.vault);
      give(this.#byAddress, shares.address);
    }
    // Once the traffic falls, the memory of its peak is given back.
    const { length, capacity } = this.#ring;
    if (capacity > INITIAL_CAPACITY && length * 4 < capacity) {
      this.#ring = this.#ring.resized(Math.max(INITIAL_CAPACITY, Math.ceil(capacity / 2)));
    }
  }
}

/** Counts one more nonce against `key`'s share, creating it; returns the share. */
function take(shares: Map<string, Share>, share: Share | undefined, key: string): Share {
  if (!share) {
    share = { key, count: 0 };
    shares.set(key, share);
  }
  share.count++;
  return share;
}

/** Counts one nonce less against `share`, forgetting it at zero. */
function give(shares: Map<string, Share>, share: Share): void {
  if (--share.count === 0) shares.delete(share.key);
}

/** A 32-bit MurmurHash3-style hash of `text`'s UTF-16 code units, keyed by `seed`. */
function fingerprint(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Fingerprints in arrival order (which is expiry order: every nonce lives the same horizon), in
 * a ring, with an open-addressing index (linear probing) over them for lookups.
 */
class NonceRing {
  readonly #hi: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #expiry: Float64Array;
  /** Whose each nonce is (parallel arrays, not a record per nonce). */
  readonly #vaults: (Share | undefined)[];
  readonly #addresses: (Share | undefined)[];
  /** Index slots: a ring position plus one, or 0 when free. At most half of them are used. */
  readonly #slots: Int32Array;
  #head = 0;
  #length = 0;

  constructor(readonly capacity: number) {
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#expiry = new Float64Array(capacity);
    this.#vaults = new Array(capacity);
    this.#addresses = new Array(capacity);
    this.#slots = new Int32Array(2 ** Math.ceil(Math.log2(2 * capacity)));
  }

  get length(): number {
    return this.#length;
  }

  get isFull(): boolean {
    return this.#length === this.capacity;
  }

  /** A ring of `capacity` (at least the length) holding the same nonces in the same order. */
  resized(capacity: number): NonceRing {
    const resized = new NonceRing(Math.max(capacity, this.#length));
    for (let i = 0; i < this.#length; i++) {
      const at = (this.#head + i) % this.capacity;
      resized.push(this.#hi[at]!, this.#lo[at]!, this.#expiry[at]!, {
        vault: this.#vaults[at]!,
        address: this.#addresses[at]!,
      });
    }
    return resized;
  }

  has(hi: number, lo: number): boolean {
    return this.#slotOf(hi, lo, -1) >= 0;
  }

  /** Appends a fingerprint; the ring must not be full. */
  push(hi: number, lo: number, expiry: number, shares: { vault: Share; address: Share }): void {
    const at = (this.#head + this.#length) % this.capacity;
    this.#hi[at] = hi;
    this.#lo[at] = lo;
    this.#expiry[at] = expiry;
    this.#vaults[at] = shares.vault;
    this.#addresses[at] = shares.address;
    this.#length++;
    const mask = this.#slots.length - 1;
    let slot = lo & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = at + 1;
  }

  /** Removes the oldest fingerprint if it expired by `now`; returns whose it was. */
  shiftExpired(now: number): { vault: Share; address: Share } | undefined {
    if (this.#length === 0 || this.#expiry[this.#head]! > now) return undefined;
    const at = this.#head;
    this.#free(this.#slotOf(this.#hi[at]!, this.#lo[at]!, at));
    const shares = { vault: this.#vaults[at]!, address: this.#addresses[at]! };
    this.#vaults[at] = this.#addresses[at] = undefined;
    this.#head = (at + 1) % this.capacity;
    this.#length--;
    return shares;
  }

  /** The slot of a fingerprint (at ring position `at`, or anywhere when -1), or -1. */
  #slotOf(hi: number, lo: number, at: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = lo & mask; this.#slots[slot] !== 0; slot = (slot + 1) & mask) {
      const position = this.#slots[slot]! - 1;
      if (at === -1 ? this.#hi[position] === hi && this.#lo[position] === lo : position === at) {
        return slot;
      }
    }
    return -1;
  }

  /** Frees `slot`, moving later entries of its probe run back so every lookup still finds them. */
  #free(slot: number): void {
    const mask = this.#slots.length - 1;
    let hole = slot;
    for (let next = (hole + 1) & mask; this.#slots[next] !== 0; next = (next + 1) & mask) {
      const home = this.#lo[this.#slots[next]! - 1]! & mask;
      // The entry at `next` may move into the hole unless its home lies in (hole, next].
      const stays = hole < next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        this.#slots[hole] = this.#slots[next]!;
        hole = next;
      }
    }
    this.#slots[hole] = 0;
  }
}
