/**
 * The database's size cap: `--max-db-size`, or with `auto` half the free space of the
 * database's file system at start, at most 16 GiB.
 *
 * @module
 */
import { statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** The most `auto` picks, whatever the free space. */
export const AUTO_MAX_DB_BYTES = 16 * 1024 ** 3;

/** Free bytes (for unprivileged users) on the file system holding `path`, or undefined. */
export function freeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path === ":memory:" ? "." : dirname(resolve(path)));
    return Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return undefined;
  }
}

/** The cap in bytes for `--max-db-size` (`null` is `auto`) and the database at `path`. */
export function resolveMaxDbBytes(configured: number | null, path: string): number {
  if (configured !== null) return configured;
  const free = freeBytes(path);
  return Math.min(AUTO_MAX_DB_BYTES, Math.floor((free ?? AUTO_MAX_DB_BYTES * 2) / 2));
}
