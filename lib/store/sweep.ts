/**
 * The expiry sweep of the envelope store: expired envelopes (a bounded number per call), expired
 * idempotency keys, devices gone for longer than the TTL, and vaults left with neither envelopes
 * nor devices nor a purge within the TTL. It runs inside the store's write transaction, which
 * accounts the freed bytes.
 *
 * @module
 */
import type { Sql } from "./sql.ts";
import type { Freed } from "./acknowledgements.ts";

/** One sweep: when, how much, and where freed rows are accounted. */
export interface Sweep {
  /** Envelopes and idempotency keys that expired by then are deleted. */
  readonly now: number;
  /** Most envelopes deleted. */
  readonly limit: number;
  /** Devices last seen before this time are forgotten, and so are empty vaults purged before it. */
  readonly seenSince: number;
  /** Takes deleted envelopes off their vault's counters (before empty vaults are deleted). */
  readonly release: (vault: string, rows: Freed) => void;
}

/**
 * Deletes up to `sweep.limit` expired envelopes, expired idempotency keys, devices not seen since
 * `sweep.seenSince`, and, once fewer than `limit` envelopes were left to delete, vaults with
 * neither envelopes nor devices that were not purged since `sweep.seenSince` either: a purge
 * deletes every device row, and the vault's seq counter must survive it (PROTOCOL.md, Seq).
 * Returns how many envelopes it deleted.
 */
export function deleteExpired(sql: Sql, sweep: Sweep): number {
  const { now, limit } = sweep;
  const rows = sql.get(
    "DELETE FROM envelopes WHERE rowid IN " +
      "(SELECT rowid FROM envelopes WHERE expires_at <= ? LIMIT ?) RETURNING vault, size",
  ).all(now, limit) as { vault: string; size: number }[];
  const byVault = Map.groupBy(rows, (row) => row.vault);
  for (const [vault, vaultRows] of byVault) sweep.release(vault, vaultRows);
  sql.get("DELETE FROM idempotency WHERE expires_at <= ?").run(now);
  sql.get("DELETE FROM devices WHERE last_seen < ?").run(sweep.seenSince);
  if (rows.length < limit) {
    sql.get(
      "DELETE FROM vaults WHERE envelope_count = 0 AND purged_at < ? AND NOT EXISTS " +
        "(SELECT 1 FROM devices WHERE devices.vault = vaults.vault)",
    ).run(sweep.seenSince);
  }
  return rows.length;
}
