/**
 * Stateless mode: envelopes go only to devices connected now and never touch disk. Seqs and
 * idempotency keys are kept in memory only, bounded (see `ModeLimits`): seqs restart after a
 * restart of the relay (or for a vault idle long enough to be evicted), and a retry is
 * recognised for as long as its key is remembered.
 *
 * @module
 */
import type { ModeContext, RelayMode } from "./mode.ts";
import type { SendOutcome } from "../protocol/envelope.ts";
import { ackBeyondLatest } from "./refusals.ts";

/** Seq counters per vault, in least-recently-used order, at most `capacity` of them. */
class SeqCounters {
  readonly #latest = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  latest(vault: string): number {
    return this.#latest.get(vault) ?? 0;
  }

  next(vault: string): number {
    const seq = this.latest(vault) + 1;
    this.#latest.delete(vault); // re-inserted last: the map stays in least-recently-used order
    this.#latest.set(vault, seq);
    if (this.#latest.size > this.capacity) this.#latest.delete(this.#latest.keys().next().value!);
    return seq;
  }
}

/** Idempotency keys with the seq they got, forgotten after `lifetimeMs` or beyond `capacity`. */
class RecentKeys {
  readonly #keys = new Map<string, { seq: number; expiresAt: number }>();

  constructor(private readonly limits: { capacity: number; lifetimeMs: number }) {}

  seqOf(key: string, now: number): number | undefined {
    const known = this.#keys.get(key);
    return known && known.expiresAt > now ? known.seq : undefined;
  }

  remember(key: string, seq: number, now: number): void {
    for (const [oldKey, entry] of this.#keys) {
      if (entry.expiresAt > now && this.#keys.size < this.limits.capacity) break;
      this.#keys.delete(oldKey);
    }
    this.#keys.set(key, { seq, expiresAt: now + this.limits.lifetimeMs });
  }
}

/** Creates the stateless mode. It uses no database. */
export function createStatelessMode(context: Omit<ModeContext, "database">): RelayMode {
  const { clock, hub, limits } = context;
  const seqs = new SeqCounters(limits.statelessVaults);
  const keys = new RecentKeys({
    capacity: limits.statelessKeys,
    lifetimeMs: limits.statelessKeyLifetimeMs,
  });

  return {
    name: "stateless",
    buffering: "disabled",
    async send(request): Promise<SendOutcome> {
      const now = clock.now();
      const key = request.idempotencyKey === undefined
        ? undefined
        : `${request.vault} ${request.from} ${request.idempotencyKey}`;
      const known = key === undefined ? undefined : keys.seqOf(key, now);
      if (known !== undefined) return { kind: "duplicate", seq: known };
      const seq = seqs.next(request.vault);
      if (key !== undefined) keys.remember(key, seq, now);
      // Published once the readers have room: flow control without buffering.
      const recipients = await hub.publishWhenReady({
        ...request,
        seq,
        createdAt: now,
        expiresAt: now,
      });
      return { kind: "delivered", seq, recipients };
    },
    backlog: (query) =>
      Promise.resolve({ envelopes: [], acked: 0, latestSeq: seqs.latest(query.vault) }),
    ack(vault, _device, seq) {
      const latest = seqs.latest(vault);
      if (seq > latest) return Promise.reject(ackBeyondLatest(seq, latest));
      return Promise.resolve({ acked: seq, deleted: 0 });
    },
    purge: () => Promise.resolve(0),
    usage: (vault) =>
      Promise.resolve({
        usedBytes: 0,
        limitBytes: limits.maxBufferBytes,
        envelopes: 0,
        devices: hub.devicesOnline(vault).size,
        latestSeq: seqs.latest(vault),
      }),
    touch: () => Promise.resolve(),
    totals: () => ({ envelopes: 0, bytes: 0, vaultsWithData: 0 }),
    close: () => Promise.resolve(),
  };
}
