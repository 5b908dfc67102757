/**
 * Rendezvous registrations of the libp2p node: who registered under which namespace, with their
 * signed peer record and an expiry. Registrations carry an increasing id that discovery cookies
 * point at, so paging returns each registration once.
 *
 * @module
 */
import type { Database } from "./database.ts";

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
  readonly record: Uint8Array;
  readonly ttlSeconds: number;
}

/** The outcome of a registration: stored, or refused by a cap. */
export type RegisterOutcome =
  | { readonly stored: true; readonly id: number }
  | { readonly stored: false; readonly reason: "peer-limit" | "total-limit" };

/** Options for {@linkcode RendezvousStore}. */
export interface RendezvousStoreOptions {
  /** Most registrations held at once. */
  readonly maxTotal: number;
  /** Most registrations of one peer. */
  readonly maxPerPeer: number;
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

/** The rendezvous registrations table, with expiry and caps. */
export class RendezvousStore {
  readonly #db: Database;
  readonly #options: RendezvousStoreOptions;
  readonly #now: () => number;

  constructor(database: Database, options: RendezvousStoreOptions) {
    this.#db = database;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Deletes expired registrations and returns how many went. */
  purgeExpired(): number {
    const result = this.#db.handle.prepare(
      "DELETE FROM rendezvous_registration WHERE expires_at <= ?",
    ).run(this.#now());
    return Number(result.changes);
  }

  /**
   * Stores or refreshes the registration of `peerId` under `namespace`. A refresh gets a new id,
   * so clients paging with a cookie see the refreshed record again.
   */
  register(input: RegisterInput): RegisterOutcome {
    const db = this.#db.handle;
    const now = this.#now();
    db.exec("BEGIN IMMEDIATE");
    try {
      db.prepare("DELETE FROM rendezvous_registration WHERE expires_at <= ?").run(now);
      const existing = db.prepare(
        "SELECT id FROM rendezvous_registration WHERE namespace = ? AND peer_id = ?",
      ).get(input.namespace, input.peerId) as { id: number } | undefined;
      const outcome = existing ? undefined : this.#capReached(input.peerId);
      if (outcome) {
        db.exec("ROLLBACK");
        return outcome;
      }
      if (existing) {
        db.prepare("DELETE FROM rendezvous_registration WHERE id = ?").run(existing.id);
      }
      const result = db.prepare(
        `INSERT INTO rendezvous_registration
           (namespace, peer_id, record, ttl_seconds, expires_at) VALUES (?, ?, ?, ?, ?)`,
      ).run(
        input.namespace,
        input.peerId,
        input.record,
        input.ttlSeconds,
        now + input.ttlSeconds * 1000,
      );
      db.exec("COMMIT");
      return { stored: true, id: Number(result.lastInsertRowid) };
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }

  #capReached(peerId: string): RegisterOutcome | undefined {
    const db = this.#db.handle;
    const perPeer = db.prepare(
      "SELECT count(*) AS n FROM rendezvous_registration WHERE peer_id = ?",
    ).get(peerId) as { n: number };
    if (perPeer.n >= this.#options.maxPerPeer) return { stored: false, reason: "peer-limit" };
    const total = db.prepare("SELECT count(*) AS n FROM rendezvous_registration").get() as {
      n: number;
    };
    if (total.n >= this.#options.maxTotal) return { stored: false, reason: "total-limit" };
    return undefined;
  }

  /** Removes the registration of `peerId` under `namespace`; returns whether one existed. */
  unregister(namespace: string, peerId: string): boolean {
    const result = this.#db.handle.prepare(
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
      ? this.#db.handle.prepare(
        `SELECT id, namespace, peer_id, record, expires_at FROM rendezvous_registration
          WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?`,
      ).all(query.afterId, now, query.limit)
      : this.#db.handle.prepare(
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
    const row = this.#db.handle.prepare(
      "SELECT seq FROM sqlite_sequence WHERE name = 'rendezvous_registration'",
    ).get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  /** Live registrations held now. */
  count(): number {
    const row = this.#db.handle.prepare(
      "SELECT count(*) AS n FROM rendezvous_registration WHERE expires_at > ?",
    ).get(this.#now()) as { n: number };
    return row.n;
  }
}
