/**
 * Deleting what every device has: after an acknowledgement, envelopes addressed to the device up
 * to its cursor, and broadcast envelopes that every other recent device of the vault has
 * acknowledged. Each delete is a range on an index (`envelopes_broadcast`,
 * `envelopes_addressed`), so an acknowledgement costs the same at 10 and at 200 000 envelopes:
 * one range delete per device of the vault, plus the rows it frees — at most `maxRows` of them,
 * so one acknowledgement never holds the event loop for long; the next one (or the expiry sweep)
 * deletes the rest.
 *
 * @module
 */
import type { Sql } from "./sql.ts";

/** A device row: its cursor and when it was last seen. */
interface DeviceCursor {
  readonly device: string;
  readonly acked: number;
  readonly last_seen: number;
}

/** Sizes of deleted rows, for the vault's accounting. */
export type Freed = readonly { readonly size: number }[];

/**
 * Deletes the envelopes of `vault` that are now acknowledged by everyone they are for, after
 * `device` moved its cursor to `acked`. Returns the sizes of the deleted rows.
 */
export function deleteAcknowledged(
  sql: Sql,
  options: { vault: string; device: string; acked: number; seenSince: number; maxRows: number },
): Freed {
  const { vault, device, acked, seenSince } = options;
  let budget = options.maxRows;
  const freed = sql.get(
    "DELETE FROM envelopes WHERE rowid IN (SELECT rowid FROM envelopes " +
      "WHERE vault = ? AND recipient = ? AND seq <= ? LIMIT ?) RETURNING size",
  ).all(vault, device, acked, budget) as { size: number }[];
  budget -= freed.length;
  const devices = sql.get("SELECT device, acked, last_seen FROM devices WHERE vault = ?")
    .all(vault) as unknown as DeviceCursor[];
  const recent = devices.filter((row) => row.last_seen >= seenSince);
  const [lowest, second] = twoLowest(recent);
  if (!lowest) return freed;
  for (const sender of devices) {
    // The floor over every recent device but the sender: what all the others have.
    const floor = sender.device === lowest.device ? second?.acked : lowest.acked;
    if (floor === undefined || floor <= 0 || budget <= 0) continue;
    const rows = sql.get(
      "DELETE FROM envelopes WHERE rowid IN (SELECT rowid FROM envelopes WHERE vault = ? " +
        "AND sender = ? AND recipient IS NULL AND seq <= ? LIMIT ?) RETURNING size",
    ).all(vault, sender.device, floor, budget) as { size: number }[];
    budget -= rows.length;
    freed.push(...rows);
  }
  return freed;
}

/** The two devices with the lowest cursors, lowest first. */
function twoLowest(
  rows: readonly DeviceCursor[],
): [DeviceCursor | undefined, DeviceCursor | undefined] {
  let lowest: DeviceCursor | undefined;
  let second: DeviceCursor | undefined;
  for (const row of rows) {
    if (!lowest || row.acked < lowest.acked) [lowest, second] = [row, lowest];
    else if (!second || row.acked < second.acked) second = row;
  }
  return [lowest, second];
}
