/**
 * Token buckets per key (a client address, a verified vault id), with bounded memory: buckets
 * are kept in least-recently-used order, idle ones (refilled to full, so equal to a fresh one)
 * are dropped as they are passed, and beyond `capacity` the least recently used go first.
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** A sustained rate with a burst allowance. */
export interface RateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Most tokens a bucket holds: how many requests may come at once. */
  readonly burst: number;
}

/** Parses `RATE/BURST` (e.g. `20/100`), `RATE` (burst = rate) or `0` (off, `null`). */
export function parseRateLimit(raw: string): RateLimit | null | undefined {
  if (raw.trim() === "0") return null;
  const match = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(raw.trim());
  if (!match) return undefined;
  const perSecond = Number(match[1]);
  const burst = match[2] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(match[2]);
  if (!(perSecond > 0) || !(burst >= 1) || burst > 1_000_000 || perSecond > 1_000_000) {
    return undefined;
  }
  return { perSecond, burst };
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** The outcome of {@linkcode TokenBuckets.take}: allowed, or when to retry. */
export type TakeResult =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** One token bucket per key. */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();

  readonly #clock: Clock;
  /** Most buckets remembered at once. */
  readonly capacity: number;

  constructor(readonly limit: RateLimit, options: { clock: Clock; capacity: number }) {
    this.#clock = options.clock;
    this.capacity = options.capacity;
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string): TakeResult {
    const now = this.#clock.now();
    const bucket = this.#refilled(key, now);
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    this.#evict(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const seconds = (1 - bucket.tokens) / this.limit.perSecond;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)) };
  }

  /** How many buckets are remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  #refilled(key: string, now: number): Bucket {
    const bucket = this.#buckets.get(key);
    if (!bucket) return { tokens: this.limit.burst, updated: now };
    const added = (Math.max(0, now - bucket.updated) / 1000) * this.limit.perSecond;
    return { tokens: Math.min(this.limit.burst, bucket.tokens + added), updated: now };
  }

  #evict(now: number): void {
    const idleMs = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [key, bucket] of this.#buckets) {
      const idle = now - bucket.updated >= idleMs;
      if (!idle && this.#buckets.size <= this.capacity) break;
      this.#buckets.delete(key);
    }
  }
}
