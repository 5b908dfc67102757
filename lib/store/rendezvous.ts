/**
 * Rendezvous registrations of the libp2p node: who registered under which namespace, from which
 * address, with their signed peer record and an expiry. Registrations carry an increasing id that
 * discovery cookies point at, so paging returns each registration once.
 *
 * Statements are prepared once ({@linkcode Sql}): a statement prepared per call keeps its bound
 * record in memory until the database closes, which made 10 000 registrations of 63 KB records
 * cost a gigabyte of resident memory.
 *
 * @module
 */
import type { Database } from "./database.ts";
import { Sql } from "./sql.ts";

/** One stored registration. */
export interface Registration {
  /** Increasing id; a discovery cookie holds the last id a client has seen. */
  readonly id: number;
  readonly namespace: string;
  /** The registering peer id (base58 text). */
  readonly peerId: string;
  /** The signed peer record envelope, as the peer sent it. */
  readonly record: Uint8Array;
  /** Seconds left until the registration expires, rounded up. */
  readonly ttlSeconds: number;
}

/** What {@linkcode RendezvousStore.register} needs. */
export interface RegisterInput {
  readonly namespace: string;
  readonly peerId: string;
  /** The address the peer registered from, as `addressKey` gives it (IPv4, or IPv6 /64). */
  readonly address: string;
  readonly record: Uint8Array;
  readonly ttlSeconds: number;
}

/** Which cap refused a registration. */
export type RegisterRefusal = "peer-limit" | "address-limit" | "total-limit";

/** The outcome of a registration: stored, or refused by a cap. */
export type RegisterOutcome =
  | { readonly stored: true; readonly id: number }
  | { readonly stored: false; readonly reason: RegisterRefusal };

/** Options for {@linkcode RendezvousStore}. */
export interface RendezvousStoreOptions {
  /** Most registrations held at once. */
  readonly maxTotal: number;
  /** Most registrations of one peer. */
  readonly maxPerPeer: number;
  /** Most registrations made from one address, by any peer. */
  readonly maxPerAddress: number;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  readonly now?: () => number;
}

/** A page of a discovery. */
export interface DiscoverPage {
  readonly registrations: readonly Registration[];
  /** The id to continue after: the last returned, or the cursor given when nothing was new. */
  readonly lastId: number;
}

interface Row {
  id: number;
  namespace: string;
  peer_id: string;
  record: Uint8Array;
  expires_at: number;
}

// Live registrations only (`expires_at` above the time given), so that a check made without
// purging first counts what a purge would leave.
const COUNT_BY_PEER =
  "SELECT count(*) AS n FROM rendezvous_registration WHERE peer_id = ? AND expires_at > ?";
const COUNT_BY_ADDRESS =
  "SELECT count(*) AS n FROM rendezvous_registration WHERE address = ? AND expires_at > ?";
const COUNT_ALL = "SELECT count(*) AS n FROM rendezvous_registration WHERE expires_at > ?";
const PURGE = "DELETE FROM rendezvous_registration WHERE expires_at <= ?";

/**
 * What the rendezvous server needs of its registrations: this SQLite table, or
 * `MemoryRendezvousStore` in a relay without a database (stateless mode).
 */
export type Registrations = Pick<
  RendezvousStore,
  "purgeExpired" | "register" | "refusal" | "unregister" | "discover" | "highestId" | "count"
>;

/** The rendezvous registrations table, with expiry and caps. */
export class RendezvousStore {
  readonly #sql: Sql;
  readonly #options: RendezvousStoreOptions;
  readonly #now: () => number;

  constructor(database: Database, options: RendezvousStoreOptions) {
    this.#sql = new Sql(database.handle);
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Deletes expired registrations and returns how many went. */
  purgeExpired(): number {
    return Number(this.#sql.get(PURGE).run(this.#now()).changes);
  }

  /**
   * Stores or refreshes the registration of `peerId` under `namespace`. A refresh gets a new id,
   * so clients paging with a cookie see the refreshed record again, and takes no new slot.
   *
   * @throws {StorageFullError} when the disk or the database's size cap is full.
   */
  register(input: RegisterInput): RegisterOutcome {
    const now = this.#now();
    return this.#sql.transaction((): RegisterOutcome => {
      this.#sql.get(PURGE).run(now);
      const existing = this.#sql.get(
        "SELECT id FROM rendezvous_registration WHERE namespace = ? AND peer_id = ?",
      ).get(input.namespace, input.peerId) as { id: number } | undefined;
      if (existing) {
        this.#sql.get("DELETE FROM rendezvous_registration WHERE id = ?").run(existing.id);
      } else {
        const reason = this.#capReached(input, now);
        if (reason) return { stored: false, reason };
      }
      const result = this.#sql.get(
        `INSERT INTO rendezvous_registration
           (namespace, peer_id, address, record, ttl_seconds, expires_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        input.namespace,
        input.peerId,
        input.address,
        input.record,
        input.ttlSeconds,
        now + input.ttlSeconds * 1000,
      );
      return { stored: true, id: Number(result.lastInsertRowid) };
    });
  }

  /**
   * The cap that would refuse `input` now, without writing: lets the server skip verifying the
   * signed record of a registration that cannot be stored. {@linkcode register} checks again.
   */
  refusal(input: Omit<RegisterInput, "record" | "ttlSeconds">): RegisterRefusal | undefined {
    const now = this.#now();
    const existing = this.#sql.get(
      `SELECT 1 FROM rendezvous_registration
        WHERE namespace = ? AND peer_id = ? AND expires_at > ?`,
    ).get(input.namespace, input.peerId, now);
    return existing ? undefined : this.#capReached(input, now);
  }

  #capReached(
    input: Omit<RegisterInput, "record" | "ttlSeconds">,
    now: number,
  ): RegisterRefusal | undefined {
    const count = (text: string, ...params: (string | number)[]) =>
      (this.#sql.get(text).get(...params) as { n: number }).n;
    if (count(COUNT_BY_PEER, input.peerId, now) >= this.#options.maxPerPeer) return "peer-limit";
    if (count(COUNT_BY_ADDRESS, input.address, now) >= this.#options.maxPerAddress) {
      return "address-limit";
    }
    if (count(COUNT_ALL, now) >= this.#options.maxTotal) return "total-limit";
    return undefined;
  }

  /** Removes the registration of `peerId` under `namespace`; returns whether one existed. */
  unregister(namespace: string, peerId: string): boolean {
    const result = this.#sql.get(
      "DELETE FROM rendezvous_registration WHERE namespace = ? AND peer_id = ?",
    ).run(namespace, peerId);
    return Number(result.changes) > 0;
  }

  /**
   * Live registrations with an id above `afterId`, oldest first, at most `limit`, in one
   * namespace or (namespace `undefined`) in all of them.
   */
  discover(
    query: { namespace: string | undefined; afterId: number; limit: number },
  ): DiscoverPage {
    const now = this.#now();
    const rows = (query.namespace === undefined
      ? this.#sql.get(
        `SELECT id, namespace, peer_id, record, expires_at FROM rendezvous_registration
          WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
      ).all(query.afterId, now, query.limit)
      : this.#sql.get(
        `SELECT id, namespace, peer_id, record, expires_at FROM rendezvous_registration
          WHERE namespace = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
      ).all(query.namespace, query.afterId, now, query.limit)) as unknown as Row[];
    const registrations = rows.map((row) => ({
      id: row.id,
      namespace: row.namespace,
      peerId: row.peer_id,
      record: row.record,
      ttlSeconds: Math.ceil((row.expires_at - now) / 1000),
    }));
    return { registrations, lastId: rows.at(-1)?.id ?? query.afterId };
  }

  /** The highest id ever handed out; a cookie above it cannot have come from this relay. */
  highestId(): number {
    const row = this.#sql.get(
      "SELECT seq FROM sqlite_sequence WHERE name = 'rendezvous_registration'",
    ).get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /** Live registrations held now. */
  count(): number {
    const row = this.#sql.get(
      "SELECT count(*) AS n FROM rendezvous_registration WHERE expires_at > ?",
    ).get(this.#now()) as { n: number };
    return row.n;
  }
}
