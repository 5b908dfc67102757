/**
 * Envelope storage for store-and-forward mode: appending in batches, backlog after a cursor,
 * acknowledgements with deletion once every recent device has acknowledged, purge, usage and
 * the expiry sweep. Every statement runs here; callers see plain objects.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import type { Database } from "./database.ts";
import type { Envelope, SendRequest, StoreTotals, VaultUsage } from "../protocol/envelope.ts";

/** What happened to one appended envelope. */
export type AppendOutcome =
  | { readonly kind: "stored"; readonly seq: number; readonly expiresAt: number }
  | { readonly kind: "duplicate"; readonly seq: number }
  | { readonly kind: "full"; readonly used: number; readonly limit: number };

/** Result of an acknowledgement. */
export type StoreAck =
  | { readonly kind: "acked"; readonly acked: number; readonly deleted: number }
  | { readonly kind: "beyond_latest"; readonly latest: number };

/** The disk (or SQLite's page limit) is full; nothing of the failed batch was stored. */
export class StorageFullError extends Error {
  override name = "StorageFullError";
}

/** Limits the store enforces. */
export interface EnvelopeLimits {
  /** How long an envelope lives, and how long a device counts as present after it was seen. */
  readonly ttlMs: number;
  /** Maximum stored body bytes per vault. */
  readonly maxBufferBytes: number;
}

function isDiskFull(error: unknown): boolean {
  return /database or disk is full|SQLITE_FULL/i.test(String((error as Error)?.message));
}

/** Envelope tables of the relay database. */
export class EnvelopeStore {
  readonly #db;
  readonly #statements = new Map<string, StatementSync>();

  constructor(database: Database, readonly limits: EnvelopeLimits) {
    this.#db = database.handle;
  }

  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      if (isDiskFull(error)) throw new StorageFullError("The relay's storage is full");
      throw error;
    }
  }

  /**
   * Appends envelopes in one transaction (group commit). A retry with a known idempotency key
   * returns the original seq; an envelope that does not fit the vault's quota is refused while
   * everything stored stays.
   *
   * @throws {StorageFullError} when the disk is full; then nothing of the batch is stored.
   */
  appendBatch(items: readonly SendRequest[], now: number): AppendOutcome[] {
    const touched = new Set<string>();
    return this.#transaction(() => items.map((item) => this.#append(item, now, touched)));
  }

  #append(item: SendRequest, now: number, touched: Set<string>): AppendOutcome {
    if (item.idempotencyKey !== undefined) {
      const known = this.#sql(
        "SELECT seq FROM idempotency WHERE vault = ? AND device = ? AND key = ? AND expires_at > ?",
      ).get(item.vault, item.from, item.idempotencyKey, now) as { seq: number } | undefined;
      if (known) return { kind: "duplicate", seq: known.seq };
    }
    const size = item.body.byteLength;
    let used = this.#usedBytes(item.vault);
    if (used === undefined) {
      this.#sql("INSERT INTO vaults (vault) VALUES (?)").run(item.vault);
      used = 0;
    }
    if (used + size > this.limits.maxBufferBytes) {
      this.#deleteExpiredOf(item.vault, now);
      used = this.#usedBytes(item.vault) ?? 0;
      if (used + size > this.limits.maxBufferBytes) {
        return { kind: "full", used, limit: this.limits.maxBufferBytes };
      }
    }
    const { seq } = this.#sql(
      "UPDATE vaults SET next_seq = next_seq + 1, used_bytes = used_bytes + ?, " +
        "envelope_count = envelope_count + 1 WHERE vault = ? RETURNING next_seq - 1 AS seq",
    ).get(size, item.vault) as { seq: number };
    const expiresAt = now + this.limits.ttlMs;
    this.#sql(
      "INSERT INTO envelopes (vault, seq, sender, recipient, size, created_at, expires_at, body) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(item.vault, seq, item.from, item.to, size, now, expiresAt, item.body);
    if (item.idempotencyKey !== undefined) {
      this.#sql(
        "INSERT INTO idempotency (vault, device, key, seq, expires_at) VALUES (?, ?, ?, ?, ?) " +
          "ON CONFLICT DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at",
      ).run(item.vault, item.from, item.idempotencyKey, seq, expiresAt);
    }
    const device = `${item.vault} ${item.from}`;
    if (!touched.has(device)) {
      touched.add(device);
      this.#touch(item.vault, item.from, now);
    }
    return { kind: "stored", seq, expiresAt };
  }

  /** Stored body bytes of the vault, or undefined if the vault has no row yet. */
  #usedBytes(vault: string): number | undefined {
    const row = this.#sql("SELECT used_bytes FROM vaults WHERE vault = ?").get(vault) as
      | { used_bytes: number }
      | undefined;
    return row?.used_bytes;
  }

  #touch(vault: string, device: string, now: number): void {
    this.#sql(
      "INSERT INTO devices (vault, device, last_seen) VALUES (?, ?, ?) " +
        "ON CONFLICT DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
    ).run(vault, device, now);
  }

  /** Records that a device was seen now; it then counts for deletion until its TTL ends. */
  touchDevice(vault: string, device: string, now: number): void {
    this.#touch(vault, device, now);
  }

  /** The device's acknowledged cursor (0 if it never acknowledged). */
  cursorOf(vault: string, device: string): number {
    const row = this.#sql("SELECT acked FROM devices WHERE vault = ? AND device = ?").get(
      vault,
      device,
    ) as { acked: number } | undefined;
    return row?.acked ?? 0;
  }

  /**
   * Envelopes for `device` with seq greater than `after`, oldest first, not expired, at most
   * `limit` of them and about `maxBytes` of bodies (at least one if any).
   */
  backlog(
    query: {
      vault: string;
      device: string;
      after: number;
      limit: number;
      maxBytes: number;
      now: number;
    },
  ): Envelope[] {
    const rows = this.#sql(
      "SELECT seq, sender, recipient, created_at, expires_at, body FROM envelopes " +
        "WHERE vault = ? AND seq > ? AND expires_at > ? AND sender != ? " +
        "AND (recipient IS NULL OR recipient = ?) ORDER BY seq LIMIT ?",
    ).iterate(query.vault, query.after, query.now, query.device, query.device, query.limit);
    const page: Envelope[] = [];
    let bytes = 0;
    for (const row of rows as Iterable<Record<string, unknown>>) {
      const body = row.body as Uint8Array;
      if (page.length > 0 && bytes + body.byteLength > query.maxBytes) break;
      bytes += body.byteLength;
      page.push({
        vault: query.vault,
        seq: row.seq as number,
        from: row.sender as string,
        to: row.recipient as string | null,
        createdAt: row.created_at as number,
        expiresAt: row.expires_at as number,
        body,
      });
    }
    return page;
  }

  /**
   * Moves the device's cursor to `seq` (never backwards) and deletes every envelope that all
   * devices seen within the TTL have now acknowledged.
   */
  ack(vault: string, device: string, seq: number, now: number): StoreAck {
    return this.#transaction(() => {
      const latest = this.latestSeq(vault);
      if (seq > latest) return { kind: "beyond_latest", latest };
      this.#sql(
        "INSERT INTO devices (vault, device, acked, last_seen) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT DO UPDATE SET acked = max(acked, excluded.acked), last_seen = excluded.last_seen",
      ).run(vault, device, seq, now);
      const deleted = this.#deleteAcknowledged(vault, seq, now);
      return { kind: "acked", acked: this.cursorOf(vault, device), deleted };
    });
  }

  #deleteAcknowledged(vault: string, upTo: number, now: number): number {
    const seenSince = now - this.limits.ttlMs;
    // Broadcast: at least one other recent device, and none of them still behind. Addressed: the
    // recipient has acknowledged it.
    const rows = this.#sql(
      `DELETE FROM envelopes AS e WHERE e.vault = ?1 AND e.seq <= ?2 AND (
         (e.recipient IS NULL
           AND EXISTS (SELECT 1 FROM devices d WHERE d.vault = e.vault AND d.device != e.sender
                         AND d.last_seen >= ?3)
           AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.vault = e.vault
                         AND d.device != e.sender AND d.last_seen >= ?3 AND d.acked < e.seq))
         OR (e.recipient IS NOT NULL
           AND EXISTS (SELECT 1 FROM devices d WHERE d.vault = e.vault
                         AND d.device = e.recipient AND d.acked >= e.seq)))
       RETURNING size`,
    ).all(vault, upTo, seenSince) as { size: number }[];
    this.#release(vault, rows);
    return rows.length;
  }

  #release(vault: string, rows: readonly { size: number }[]): void {
    if (rows.length === 0) return;
    const bytes = rows.reduce((sum, row) => sum + row.size, 0);
    this.#sql(
      "UPDATE vaults SET used_bytes = used_bytes - ?, envelope_count = envelope_count - ? " +
        "WHERE vault = ?",
    ).run(bytes, rows.length, vault);
  }

  #deleteExpiredOf(vault: string, now: number): void {
    const rows = this.#sql(
      "DELETE FROM envelopes WHERE vault = ? AND expires_at <= ? RETURNING size",
    ).all(vault, now) as { size: number }[];
    this.#release(vault, rows);
  }

  /** The highest seq ever assigned in the vault (0 if none). */
  latestSeq(vault: string): number {
    const row = this.#sql("SELECT next_seq FROM vaults WHERE vault = ?").get(vault) as
      | { next_seq: number }
      | undefined;
    return (row?.next_seq ?? 1) - 1;
  }

  /**
   * Deletes everything stored for the vault. Its seq counter is kept so that seqs never go
   * backwards for a vault id. Returns how many envelopes were deleted.
   */
  purge(vault: string): number {
    return this.#transaction(() => {
      const { changes } = this.#sql("DELETE FROM envelopes WHERE vault = ?").run(vault);
      this.#sql("DELETE FROM devices WHERE vault = ?").run(vault);
      this.#sql("DELETE FROM idempotency WHERE vault = ?").run(vault);
      this.#sql("UPDATE vaults SET used_bytes = 0, envelope_count = 0 WHERE vault = ?").run(vault);
      return Number(changes);
    });
  }

  /** The vault's usage: bytes against the limit, envelopes and recently seen devices. */
  usage(vault: string, now: number): VaultUsage {
    const row = this.#sql(
      "SELECT used_bytes, envelope_count, next_seq FROM vaults WHERE vault = ?",
    ).get(vault) as { used_bytes: number; envelope_count: number; next_seq: number } | undefined;
    const devices = this.#sql(
      "SELECT count(*) AS n FROM devices WHERE vault = ? AND last_seen >= ?",
    ).get(vault, now - this.limits.ttlMs) as { n: number };
    return {
      usedBytes: row?.used_bytes ?? 0,
      limitBytes: this.limits.maxBufferBytes,
      envelopes: row?.envelope_count ?? 0,
      devices: devices.n,
      latestSeq: (row?.next_seq ?? 1) - 1,
    };
  }

  /**
   * Deletes up to `limit` expired envelopes (and expired idempotency keys and devices gone for
   * longer than the TTL) in one short transaction. Returns how many envelopes it deleted; call
   * again while it returns `limit`.
   */
  sweepExpired(now: number, limit: number): number {
    return this.#transaction(() => {
      const rows = this.#sql(
        "DELETE FROM envelopes WHERE rowid IN " +
          "(SELECT rowid FROM envelopes WHERE expires_at <= ? LIMIT ?) RETURNING vault, size",
      ).all(now, limit) as { vault: string; size: number }[];
      const byVault = Map.groupBy(rows, (row) => row.vault);
      for (const [vault, vaultRows] of byVault) this.#release(vault, vaultRows);
      this.#sql("DELETE FROM idempotency WHERE expires_at <= ?").run(now);
      this.#sql("DELETE FROM devices WHERE last_seen < ?").run(now - this.limits.ttlMs);
      return rows.length;
    });
  }

  /** Totals over all vaults. */
  totals(): StoreTotals {
    const row = this.#sql(
      "SELECT coalesce(sum(envelope_count), 0) AS envelopes, coalesce(sum(used_bytes), 0) AS bytes, " +
        "count(*) FILTER (WHERE envelope_count > 0) AS vaults FROM vaults",
    ).get() as { envelopes: number; bytes: number; vaults: number };
    return { envelopes: row.envelopes, bytes: row.bytes, vaultsWithData: row.vaults };
  }
}
