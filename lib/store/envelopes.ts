/**
 * Envelope storage for store-and-forward mode: appends and acknowledgements (deleting through
 * `acknowledgements.ts`) in batches, appends within the vault's quota and the database's cap,
 * backlog after a cursor (`backlog.ts`), purge, usage (`usage.ts`) and the expiry sweep
 * (`sweep.ts`). Every
 * statement runs here or in a sibling module; callers see plain objects.
 *
 * Each envelope is charged its body plus a fixed overhead (its row and index entries), so
 * zero-byte envelopes count against the quota too.
 *
 * @module
 */
import type { Database } from "./database.ts";
import { Sql, StorageFullError } from "./sql.ts";
import { deleteAcknowledged, type Freed } from "./acknowledgements.ts";
import { type BacklogRead, readBacklog } from "./backlog.ts";
import { deleteExpired } from "./sweep.ts";
import { readTotals, readUsage, readVaultRow, type VaultRow } from "./usage.ts";
import type { Envelope, SendRequest, StoreTotals, VaultUsage } from "../protocol/envelope.ts";

export { StorageFullError };

/** What happened to one appended envelope. */
export type AppendOutcome =
  | { readonly kind: "stored"; readonly seq: number; readonly expiresAt: number }
  | { readonly kind: "duplicate"; readonly seq: number }
  | {
    readonly kind: "full";
    readonly used: number;
    readonly limit: number;
    readonly envelopes: number;
    readonly maxEnvelopes: number;
  }
  /** The batch's `admitNewVault` refused to create the vault; `error` is what it threw. */
  | { readonly kind: "refused"; readonly error: unknown }
  /** The database holds its cap (`--max-db-size`) and the envelope does not fit. */
  | { readonly kind: "storage_full" };

/**
 * Asked before an append creates a vault's row (the vault's first envelope, or its first since
 * it was forgotten); a throw refuses that envelope alone, and its vault stays uncreated.
 */
export type AdmitNewVault = (item: SendRequest) => void;

/** Result of an acknowledgement. */
export type StoreAck =
  | { readonly kind: "acked"; readonly acked: number; readonly deleted: number }
  | { readonly kind: "beyond_latest"; readonly latest: number };

/** One write of a batch: an envelope to append, or a device's cursor to move. */
export type StoreWrite =
  | { readonly kind: "append"; readonly request: SendRequest }
  | {
    readonly kind: "ack";
    readonly vault: string;
    readonly device: string;
    readonly seq: number;
  };

/** Limits the store enforces. */
export interface EnvelopeLimits {
  /** How long an envelope lives, and how long a device counts as present after it was seen. */
  readonly ttlMs: number;
  /** Charged bytes per vault (bodies plus overhead). */
  readonly maxBufferBytes: number;
  /** Bytes charged per envelope on top of its body. */
  readonly envelopeOverheadBytes: number;
  /** Envelopes stored per vault. */
  readonly maxEnvelopesPerVault: number;
  /** Charged bytes in the whole database; beyond it appends fail with StorageFullError. */
  readonly maxStoredBytes: number;
  /** Rows one acknowledgement deletes at most; later ones delete the rest. */
  readonly ackDeleteRows: number;
}

/**
 * A vault's row while a batch appends to it: read once, counted here, and written once when the
 * batch ends (one statement per vault instead of a read and an update per envelope).
 */
interface BatchVault {
  usedBytes: number;
  envelopeCount: number;
  nextSeq: number;
  /** Charged bytes and envelopes this batch added that the stored row does not have yet. */
  addedBytes: number;
  addedCount: number;
}

/** What one write batch shares between its appends and acknowledgements. */
interface WriteBatch {
  readonly now: number;
  readonly admitNewVault: AdmitNewVault | undefined;
  /** Devices already recorded as seen, as "vault device". */
  readonly touched: Set<string>;
  readonly vaults: Map<string, BatchVault>;
}

function batchVault(row: VaultRow): BatchVault {
  return {
    usedBytes: row.used_bytes,
    envelopeCount: row.envelope_count,
    nextSeq: row.next_seq,
    addedBytes: 0,
    addedCount: 0,
  };
}

/** Envelope tables of the relay database. */
export class EnvelopeStore {
  readonly #sql: Sql;
  /** Charged bytes of every vault, as committed. */
  #storedBytes: number;
  /** Charged minus freed bytes of the transaction under way. */
  #delta = 0;

  constructor(readonly database: Database, readonly limits: EnvelopeLimits) {
    this.#sql = new Sql(database.handle);
    this.#storedBytes = this.totals().bytes;
  }

  /** What one envelope of `size` body bytes is charged. */
  chargeOf(size: number): number {
    return size + this.limits.envelopeOverheadBytes;
  }

  /**
   * Appends envelopes in one transaction; see {@linkcode writeBatch}.
   *
   * @throws {StorageFullError} when the disk is full; then nothing of the batch is stored.
   */
  appendBatch(
    items: readonly SendRequest[],
    now: number,
    admitNewVault?: AdmitNewVault,
  ): AppendOutcome[] {
    const writes = items.map((request) => ({ kind: "append", request }) as const);
    return this.writeBatch(writes, now, admitNewVault) as AppendOutcome[];
  }

  /**
   * Runs appends and acknowledgements in one transaction, in order (group commit: one fsync for
   * all of them), and returns each one's outcome. A retry with a known idempotency key returns
   * the original seq; an envelope that does not fit its vault's quota or the database's cap is
   * refused while everything else of the batch is kept.
   *
   * @throws {StorageFullError} when the disk is full; then nothing of the batch is kept.
   */
  writeBatch(
    writes: readonly StoreWrite[],
    now: number,
    admitNewVault?: AdmitNewVault,
  ): (AppendOutcome | StoreAck)[] {
    const batch: WriteBatch = { now, admitNewVault, touched: new Set(), vaults: new Map() };
    return this.#write(() => {
      const outcomes = writes.map((write) =>
        write.kind === "append"
          ? this.#append(write.request, batch)
          : this.#ack(write.vault, write.device, write.seq, batch)
      );
      for (const [vault, row] of batch.vaults) this.#writeVaultRow(vault, row);
      return outcomes;
    });
  }

  #append(item: SendRequest, batch: WriteBatch): AppendOutcome {
    const { now } = batch;
    if (item.idempotencyKey !== undefined) {
      const known = this.#sql.get(
        "SELECT seq FROM idempotency WHERE vault = ? AND device = ? AND key = ? AND expires_at > ?",
      ).get(item.vault, item.from, item.idempotencyKey, now) as { seq: number } | undefined;
      if (known) return { kind: "duplicate", seq: known.seq };
    }
    const charge = this.chargeOf(item.body.byteLength);
    if (this.#storedBytes + this.#delta + charge > this.limits.maxStoredBytes) {
      return { kind: "storage_full" };
    }
    const row = this.#roomIn(item, charge, batch);
    if ("kind" in row) return row;
    const seq = row.nextSeq++;
    row.usedBytes += charge;
    row.envelopeCount++;
    row.addedBytes += charge;
    row.addedCount++;
    this.#delta += charge;
    const expiresAt = now + this.limits.ttlMs;
    this.#sql.get(
      "INSERT INTO envelopes (vault, seq, sender, recipient, size, created_at, expires_at, body) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(item.vault, seq, item.from, item.to, item.body.byteLength, now, expiresAt, item.body);
    if (item.idempotencyKey !== undefined) {
      this.#sql.get(
        "INSERT INTO idempotency (vault, device, key, seq, expires_at) VALUES (?, ?, ?, ?, ?) " +
          "ON CONFLICT DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at",
      ).run(item.vault, item.from, item.idempotencyKey, seq, expiresAt);
    }
    const device = `${item.vault} ${item.from}`;
    if (!batch.touched.has(device)) {
      batch.touched.add(device);
      this.touchDevice(item.vault, item.from, now);
    }
    return { kind: "stored", seq, expiresAt };
  }

  /**
   * The row of `item`'s vault for this batch when `charge` more bytes (and one more envelope) fit
   * it, after dropping its expired envelopes if they did not; otherwise the refusal. Creates the
   * vault's row if the batch's `admitNewVault` lets it.
   */
  #roomIn(item: SendRequest, charge: number, batch: WriteBatch): BatchVault | AppendOutcome {
    const { maxBufferBytes, maxEnvelopesPerVault } = this.limits;
    const { vault } = item;
    const fits = (r: BatchVault) =>
      r.usedBytes + charge <= maxBufferBytes && r.envelopeCount < maxEnvelopesPerVault;
    let row = batch.vaults.get(vault);
    if (!row) {
      const loaded = this.#loadVault(vault) ?? this.#createVault(item, batch);
      if ("kind" in loaded) return loaded;
      batch.vaults.set(vault, row = loaded);
    }
    if (fits(row)) return row;
    // Dropping expired envelopes updates the stored row: it must have what the batch added.
    this.#writeVaultRow(vault, row);
    this.#release(
      vault,
      this.#sql.get("DELETE FROM envelopes WHERE vault = ? AND expires_at <= ? RETURNING size")
        .all(vault, batch.now) as { size: number }[],
    );
    batch.vaults.set(vault, row = this.#loadVault(vault)!);
    if (fits(row)) return row;
    return {
      kind: "full",
      used: row.usedBytes,
      limit: maxBufferBytes,
      envelopes: row.envelopeCount,
      maxEnvelopes: maxEnvelopesPerVault,
    };
  }

  /** The vault's stored row for a batch to count in, or undefined when it has none. */
  #loadVault(vault: string): BatchVault | undefined {
    const row: VaultRow | undefined = this.#vaultRow(vault);
    return row && batchVault(row);
  }

  /** Creates the row of `item`'s vault, unless the batch's `admitNewVault` refuses it. */
  #createVault(item: SendRequest, batch: WriteBatch): BatchVault | AppendOutcome {
    try {
      batch.admitNewVault?.(item);
    } catch (error) {
      return { kind: "refused", error };
    }
    this.#sql.get("INSERT INTO vaults (vault) VALUES (?)").run(item.vault);
    return batchVault({ used_bytes: 0, envelope_count: 0, next_seq: 1 });
  }

  /** Writes what a batch added to the vault's stored row. */
  #writeVaultRow(vault: string, row: BatchVault): void {
    if (row.addedCount === 0) return;
    this.#sql.get(
      "UPDATE vaults SET next_seq = ?, used_bytes = used_bytes + ?, " +
        "envelope_count = envelope_count + ? WHERE vault = ?",
    ).run(row.nextSeq, row.addedBytes, row.addedCount, vault);
    row.addedBytes = 0;
    row.addedCount = 0;
  }

  #vaultRow(vault: string): VaultRow | undefined {
    return readVaultRow(this.#sql, vault);
  }

  /** Records that a device was seen now; it then counts for deletion until its TTL ends. */
  touchDevice(vault: string, device: string, now: number): void {
    this.#sql.get(
      "INSERT INTO devices (vault, device, last_seen) VALUES (?, ?, ?) " +
        "ON CONFLICT DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
    ).run(vault, device, now);
  }

  /** The device's acknowledged cursor (0 if it never acknowledged). */
  cursorOf(vault: string, device: string): number {
    const row = this.#sql.get("SELECT acked FROM devices WHERE vault = ? AND device = ?")
      .get(vault, device) as { acked: number } | undefined;
    return row?.acked ?? 0;
  }

  /** A page of envelopes for a device; see {@linkcode readBacklog}. */
  backlog(query: BacklogRead): Envelope[] {
    return readBacklog(this.#sql, query);
  }

  /**
   * Moves the device's cursor to `seq` (never backwards) and deletes every envelope that all
   * devices seen within the TTL have now acknowledged; in a transaction of its own (see
   * {@linkcode writeBatch} to share one).
   */
  ack(vault: string, device: string, seq: number, now: number): StoreAck {
    return this.writeBatch([{ kind: "ack", vault, device, seq }], now)[0] as StoreAck;
  }

  #ack(vault: string, device: string, seq: number, batch: WriteBatch): StoreAck {
    // The vault's row must hold what the batch appended so far: the latest seq, and the
    // counters the deletes take from.
    const row = batch.vaults.get(vault);
    if (row) {
      this.#writeVaultRow(vault, row);
      batch.vaults.delete(vault);
    }
    const latest = this.latestSeq(vault);
    if (seq > latest) return { kind: "beyond_latest", latest };
    const { acked } = this.#sql.get(
      "INSERT INTO devices (vault, device, acked, last_seen) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT DO UPDATE SET acked = max(acked, excluded.acked), " +
        "last_seen = excluded.last_seen RETURNING acked",
    ).get(vault, device, seq, batch.now) as { acked: number };
    const freed = deleteAcknowledged(this.#sql, {
      vault,
      device,
      acked,
      seenSince: batch.now - this.limits.ttlMs,
      maxRows: this.limits.ackDeleteRows,
    });
    this.#release(vault, freed);
    return { kind: "acked", acked, deleted: freed.length };
  }

  /** Runs a write transaction; what it charged and freed counts for the total once committed. */
  #write<T>(work: () => T): T {
    this.#delta = 0;
    try {
      const result = this.#sql.transaction(work);
      this.#storedBytes += this.#delta;
      return result;
    } finally {
      this.#delta = 0;
    }
  }

  /** Takes deleted rows off the vault's counters. */
  #release(vault: string, rows: Freed): void {
    if (rows.length === 0) return;
    const bytes = rows.reduce((sum, row) => sum + this.chargeOf(row.size), 0);
    this.#delta -= bytes;
    this.#sql.get(
      "UPDATE vaults SET used_bytes = used_bytes - ?, envelope_count = envelope_count - ? " +
        "WHERE vault = ?",
    ).run(bytes, rows.length, vault);
  }

  /** The highest seq ever assigned in the vault (0 if none). */
  latestSeq(vault: string): number {
    return (this.#vaultRow(vault)?.next_seq ?? 1) - 1;
  }

  /**
   * Deletes everything stored for the vault at `now`. Its seq counter is kept so that seqs never
   * go backwards for a vault id: the purge is recorded on the vault, and the sweep forgets the
   * vault only once it stayed idle for the TTL after it. Returns how many envelopes were deleted.
   */
  purge(vault: string, now: number): number {
    return this.#write(() => {
      const freed = this.#sql.get("DELETE FROM envelopes WHERE vault = ? RETURNING size")
        .all(vault) as { size: number }[];
      this.#release(vault, freed);
      this.#sql.get("DELETE FROM devices WHERE vault = ?").run(vault);
      this.#sql.get("DELETE FROM idempotency WHERE vault = ?").run(vault);
      this.#sql.get("UPDATE vaults SET purged_at = max(purged_at, ?) WHERE vault = ?")
        .run(now, vault);
      return freed.length;
    });
  }

  /** The vault's usage: charged bytes against the limit, envelopes and recently seen devices. */
  usage(vault: string, now: number): VaultUsage {
    const seenSince = now - this.limits.ttlMs;
    return readUsage(this.#sql, { vault, seenSince, limitBytes: this.limits.maxBufferBytes });
  }

  /**
   * Deletes up to `limit` expired envelopes, expired idempotency keys, devices gone for longer
   * than the TTL, and vaults left with neither envelopes nor devices nor a purge within the TTL
   * (their seq restarts), in one short transaction. Returns how many envelopes it deleted; call
   * again while it returns `limit`.
   */
  sweepExpired(now: number, limit: number): number {
    return this.#write(() =>
      deleteExpired(this.#sql, {
        now,
        limit,
        seenSince: now - this.limits.ttlMs,
        release: (vault, rows) => this.#release(vault, rows),
      })
    );
  }

  /** Totals over all vaults. */
  totals(): StoreTotals {
    return readTotals(this.#sql);
  }
}
