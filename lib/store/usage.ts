/**
 * Reading the vault counters that the envelope store keeps in the `vaults` table (charged
 * bytes, envelopes, next seq): one vault's row, its usage against its quota, and the totals over
 * every vault.
 *
 * @module
 */
import type { Sql } from "./sql.ts";
import type { StoreTotals, VaultUsage } from "../protocol/envelope.ts";

/** The vault's row: its counters. */
export interface VaultRow {
  readonly used_bytes: number;
  readonly envelope_count: number;
  readonly next_seq: number;
}

/** The vault's row, or `undefined` when it has none (it never stored, or was forgotten). */
export function readVaultRow(sql: Sql, vault: string): VaultRow | undefined {
  return sql.get("SELECT used_bytes, envelope_count, next_seq FROM vaults WHERE vault = ?")
    .get(vault) as VaultRow | undefined;
}

/** Which vault's usage to read, and against what. */
export interface UsageQuery {
  readonly vault: string;
  /** Devices last seen at or after this time count as the vault's devices. */
  readonly seenSince: number;
  /** The vault's quota in charged bytes, reported as `limitBytes`. */
  readonly limitBytes: number;
}

/** The vault's usage: charged bytes against the limit, envelopes and recently seen devices. */
export function readUsage(sql: Sql, query: UsageQuery): VaultUsage {
  const row = readVaultRow(sql, query.vault);
  const devices = sql.get(
    "SELECT count(*) AS n FROM devices WHERE vault = ? AND last_seen >= ?",
  ).get(query.vault, query.seenSince) as { n: number };
  return {
    usedBytes: row?.used_bytes ?? 0,
    limitBytes: query.limitBytes,
    envelopes: row?.envelope_count ?? 0,
    devices: devices.n,
    latestSeq: (row?.next_seq ?? 1) - 1,
  };
}

/** Totals over all vaults. */
export function readTotals(sql: Sql): StoreTotals {
  const row = sql.get(
    "SELECT coalesce(sum(envelope_count), 0) AS envelopes, coalesce(sum(used_bytes), 0) AS bytes, " +
      "count(*) FILTER (WHERE envelope_count > 0) AS vaults FROM vaults",
  ).get() as { envelopes: number; bytes: number; vaults: number };
  return { envelopes: row.envelopes, bytes: row.bytes, vaultsWithData: row.vaults };
}
