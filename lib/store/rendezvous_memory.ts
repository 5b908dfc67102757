/**
 * Rendezvous registrations in memory, for a relay without a database (stateless mode): the same
 * caps, expiry and paging as the SQLite table (`RendezvousStore`), plus a cap on the
 * bytes of the signed peer records held, since they are held in the process. Lost on restart;
 * peers register again within their TTL anyway.
 *
 * @module
 */
import type {
  DiscoverPage,
  RegisterInput,
  RegisterOutcome,
  RegisterRefusal,
  Registrations,
  RendezvousStoreOptions,
} from "./rendezvous.ts";

interface Entry {
  readonly id: number;
  readonly namespace: string;
  readonly peerId: string;
  readonly address: string;
  readonly record: Uint8Array;
  readonly expiresAt: number;
}

/** Options of {@linkcode MemoryRendezvousStore}: those of the table, and a byte cap. */
export interface MemoryRendezvousOptions extends RendezvousStoreOptions {
  /** Bytes of signed peer records held at once. */
  readonly maxRecordBytes: number;
}

/** A count per key that forgets keys at zero. */
class Counts {
  readonly #counts = new Map<string, number>();

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  add(key: string, delta: number): void {
    const count = this.get(key) + delta;
    if (count === 0) this.#counts.delete(key);
    else this.#counts.set(key, count);
  }
}

/** The registrations, in id order (a `Map` iterates in insertion order, and ids only grow). */
export class MemoryRendezvousStore implements Registrations {
  readonly #entries = new Map<number, Entry>();
  /** The id of each peer's registration in each namespace. */
  readonly #ids = new Map<string, number>();
  readonly #perPeer = new Counts();
  readonly #perAddress = new Counts();
  #recordBytes = 0;
  #lastId = 0;
  /** No registration expires before this: a purge until then has nothing to do. */
  #nextExpiry = Infinity;
  readonly #options: MemoryRendezvousOptions;
  readonly #now: () => number;

  constructor(options: MemoryRendezvousOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes of signed peer records held now. */
  get recordBytes(): number {
    return this.#recordBytes;
  }

  /**
   * Deletes expired registrations and returns how many went. It looks at them only once the
   * earliest expiry has passed, so calling it before every request costs nothing in between.
   */
  purgeExpired(): number {
    const now = this.#now();
    if (now < this.#nextExpiry) return 0;
    let purged = 0;
    this.#nextExpiry = Infinity;
    for (const entry of this.#entries.values()) {
      if (entry.expiresAt <= now) {
        this.#remove(entry);
        purged++;
      } else this.#nextExpiry = Math.min(this.#nextExpiry, entry.expiresAt);
    }
    return purged;
  }

  /** As `RendezvousStore.register`; a record beyond the byte cap is `total-limit`. */
  register(input: RegisterInput): RegisterOutcome {
    const now = this.#now();
    this.purgeExpired();
    const existing = this.#entries.get(this.#ids.get(this.#key(input)) ?? 0);
    if (!existing) {
      const reason = this.#capReached(input);
      if (reason) return { stored: false, reason };
    }
    const freed = existing?.record.byteLength ?? 0;
    if (this.#recordBytes - freed + input.record.byteLength > this.#options.maxRecordBytes) {
      return { stored: false, reason: "total-limit" };
    }
    if (existing) this.#remove(existing);
    const entry: Entry = {
      id: ++this.#lastId,
      namespace: input.namespace,
      peerId: input.peerId,
      address: input.address,
      // A copy: the record arrived in a buffer that the stream may reuse.
      record: input.record.slice(),
      expiresAt: now + input.ttlSeconds * 1000,
    };
    this.#entries.set(entry.id, entry);
    this.#ids.set(this.#key(entry), entry.id);
    this.#perPeer.add(entry.peerId, 1);
    this.#perAddress.add(entry.address, 1);
    this.#recordBytes += entry.record.byteLength;
    this.#nextExpiry = Math.min(this.#nextExpiry, entry.expiresAt);
    return { stored: true, id: entry.id };
  }

  /** As `RendezvousStore.refusal`. */
  refusal(input: Omit<RegisterInput, "record" | "ttlSeconds">): RegisterRefusal | undefined {
    this.purgeExpired();
    return this.#ids.has(this.#key(input)) ? undefined : this.#capReached(input);
  }

  #capReached(input: Omit<RegisterInput, "record" | "ttlSeconds">): RegisterRefusal | undefined {
    const { maxPerPeer, maxPerAddress, maxTotal } = this.#options;
    if (this.#perPeer.get(input.peerId) >= maxPerPeer) return "peer-limit";
    if (this.#perAddress.get(input.address) >= maxPerAddress) return "address-limit";
    if (this.#entries.size >= maxTotal) return "total-limit";
    return undefined;
  }

  /** As `RendezvousStore.unregister`. */
  unregister(namespace: string, peerId: string): boolean {
    const entry = this.#entries.get(this.#ids.get(this.#key({ namespace, peerId })) ?? 0);
    if (entry) this.#remove(entry);
    return entry !== undefined;
  }

  /** As `RendezvousStore.discover`. */
  discover(
    query: { namespace: string | undefined; afterId: number; limit: number },
  ): DiscoverPage {
    const now = this.#now();
    const registrations = [];
    for (const entry of this.#entries.values()) {
      if (registrations.length >= query.limit) break;
      if (entry.id <= query.afterId || entry.expiresAt <= now) continue;
      if (query.namespace !== undefined && entry.namespace !== query.namespace) continue;
      registrations.push({
        id: entry.id,
        namespace: entry.namespace,
        peerId: entry.peerId,
        record: entry.record,
        ttlSeconds: Math.ceil((entry.expiresAt - now) / 1000),
      });
    }
    return { registrations, lastId: registrations.at(-1)?.id ?? query.afterId };
  }

  /** As `RendezvousStore.highestId`. */
  highestId(): number {
    return this.#lastId;
  }

  /** As `RendezvousStore.count`: what is left once the expired are gone. */
  count(): number {
    this.purgeExpired();
    return this.#entries.size;
  }

  #key(registration: { namespace: string; peerId: string }): string {
    return `${registration.peerId}\n${registration.namespace}`;
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.id);
    this.#ids.delete(this.#key(entry));
    this.#perPeer.add(entry.peerId, -1);
    this.#perAddress.add(entry.address, -1);
    this.#recordBytes -= entry.record.byteLength;
  }
}
