/**
 * The file-descriptor budget: how many descriptors the relay lets clients hold, derived from the
 * process's open-file limit the way Syncthing's relay does (80 % of it), and shared between
 * HTTP connections (through the connection gate) and libp2p.
 *
 * Deno raises the soft open-file limit to the hard one when it starts, so the limit read here is
 * the hard limit (systemd's `LimitNOFILE`). Reading `/proc/self/limits` needs `--allow-all` in
 * Deno 2.9; without it, `--max-open-files` says what the limit is.
 *
 * @module
 */

/** Descriptors kept for the runtime, stdio, SQLite (database, WAL, shared memory) and listeners. */
export const RESERVED_FDS = 64;

/** The open-file limit of this process, or `undefined` when it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((text) => text.startsWith("Max open files"));
    const soft = line?.trim().split(/\s+/)[3];
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** How the budget is split. */
export interface FdBudget {
  /** The open-file limit the budget is derived from. */
  readonly limit: number;
  /** Where the limit came from. */
  readonly source: "flag" | "process" | "assumed";
  /** Descriptors of client connections over HTTP (the gate counts 1 waiting, 3 proxied). */
  readonly http: number;
  /** libp2p connections. */
  readonly p2pConnections: number;
}

/** The limit when it is neither configured nor readable: the usual default soft limit. */
const ASSUMED_LIMIT = 1024;

/**
 * The budget for an open-file limit: `configured` (`--max-open-files`), else the process's (as
 * `readLimit` finds it), else 1024. 80 % of it less {@linkcode RESERVED_FDS}; libp2p gets a
 * quarter, at most 256 connections.
 */
export function fdBudget(
  configured: number | null,
  options: { p2p: boolean; readLimit?: () => number | undefined },
): FdBudget {
  const p2pEnabled = options.p2p;
  const read = configured === null ? (options.readLimit ?? openFileLimit)() : undefined;
  const limit = configured ?? read ?? ASSUMED_LIMIT;
  const source = configured !== null ? "flag" : read !== undefined ? "process" : "assumed";
  const total = Math.max(32, Math.floor(limit * 0.8) - RESERVED_FDS);
  const p2pConnections = p2pEnabled ? Math.min(256, Math.floor(total / 4)) : 0;
  return { limit, source, http: total - p2pConnections, p2pConnections };
}
