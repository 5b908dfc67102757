/**
 * Storage faults under a running relay: the database file (or its write-ahead log) deleted,
 * replaced or made read-only. SQLite keeps using the file it opened, so without this check a
 * relay would go on acknowledging writes into a file that no restart finds. One check costs a
 * few system calls (microseconds); `database.ts` runs it on a timer and before every write
 * transaction.
 *
 * What it sees: a path gone or naming another file (device and inode), a file without write
 * permission, and a log that cannot be opened for writing (a read-only file system, an immutable
 * log). The database file itself is never opened here: closing any descriptor of it would drop
 * SQLite's POSIX locks. So an immutable database file beside a writable log goes unseen; its
 * writes then stay in the log, which the next start applies.
 *
 * @module
 */
import { accessSync, constants } from "node:fs";
import { ProtocolError } from "../protocol/errors.ts";

/** What went wrong with a database file. */
export type StorageFaultKind = "deleted" | "replaced" | "read_only" | "inaccessible";

/** A storage fault: what happened to which file, and what the relay still serves. */
export interface StorageFault {
  readonly kind: StorageFaultKind;
  /** The file it concerns: the database or its write-ahead log (`<db>-wal`). */
  readonly file: string;
  /** A sentence for `/health` and clients, without the path. */
  readonly reason: string;
  /**
   * Whether reads may still be served from the open file: yes when it is only read-only or
   * cannot be checked, no when it was deleted or replaced (no restart would find that data).
   */
  readonly readable: boolean;
  /** Whether only a restart ends it (deleted or replaced); otherwise it may pass. */
  readonly permanent: boolean;
}

/**
 * A store operation refused because of a {@linkcode StorageFault}: 503 `storage_unavailable`.
 * It is a `ProtocolError` so that whichever store call meets the fault, over HTTP or a socket,
 * the client gets the same refusal without each caller mapping it.
 */
export class StorageUnavailableError extends ProtocolError {
  override name = "StorageUnavailableError";

  constructor(readonly fault: StorageFault) {
    super("storage_unavailable", `The relay's storage is unavailable: ${fault.reason}`, {
      retryAfter: 60,
    });
  }
}

interface Identity {
  readonly dev: number;
  readonly ino: number;
}

/** One watched file and the identity of the file the relay has open under that path. */
interface Watched {
  readonly path: string;
  readonly label: string;
  /** Whether opening it for writing is a safe probe (SQLite holds no locks on it). */
  readonly probe: boolean;
  identity: Identity | undefined;
}

function errorCode(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).name;
}

function fault(kind: StorageFaultKind, watched: Watched, detail = ""): StorageFault {
  const restart = "while the relay was running; restart the relay";
  const reason = {
    deleted: `${watched.label} was deleted ${restart}`,
    replaced: `${watched.label} was replaced ${restart}`,
    read_only: `${watched.label} is read-only`,
    inaccessible: `${watched.label} cannot be checked (${detail})`,
  }[kind];
  const permanent = kind === "deleted" || kind === "replaced";
  return { kind, file: watched.path, reason, readable: !permanent, permanent };
}

/** Identity of the file at `path`, `undefined` if there is none; other errors are thrown. */
function identityAt(path: string): { identity: Identity; mode: number | null } | undefined {
  try {
    const info = Deno.statSync(path);
    return { identity: { dev: info.dev, ino: info.ino ?? 0 }, mode: info.mode };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Whether the relay may write `watched`: at least one write permission bit is set (root ignores
 * them, but a file nobody may write was made read-only on purpose), the permissions allow this
 * user, and, where safe, the kernel lets it be opened for writing (a read-only file system or an
 * immutable file refuse writes even through descriptors opened before).
 */
function writable(watched: Watched, mode: number | null): boolean {
  if (mode !== null && (mode & 0o222) === 0) return false;
  try {
    accessSync(watched.path, constants.W_OK);
    if (watched.probe) Deno.openSync(watched.path, { write: true }).close();
    return true;
  } catch (error) {
    // Gone between the stat and the probe: the next check reports it as deleted.
    return error instanceof Deno.errors.NotFound;
  }
}

/** Checks the database file and its write-ahead log against the files the relay opened. */
export class StorageWatch {
  readonly #files: Watched[];

  /** Remembers the files now at `path` and `<path>-wal` as the ones the relay has open. */
  constructor(path: string) {
    this.#files = [
      { path, label: "the database file", probe: false, identity: undefined },
      {
        path: `${path}-wal`,
        label: "the database's write-ahead log",
        probe: true,
        identity: undefined,
      },
    ];
    for (const watched of this.#files) watched.identity = identityAt(watched.path)?.identity;
  }

  /** The first fault found now, or `undefined` when every file is the open one and writable. */
  check(): StorageFault | undefined {
    for (const watched of this.#files) {
      let found;
      try {
        found = identityAt(watched.path);
      } catch (error) {
        return fault("inaccessible", watched, errorCode(error));
      }
      if (!found) {
        // A log SQLite has not created yet is not missing.
        if (watched.identity) return fault("deleted", watched);
        continue;
      }
      // SQLite creates the log on first use: the first one seen is the open one.
      watched.identity ??= found.identity;
      const { dev, ino } = watched.identity;
      if (found.identity.dev !== dev || found.identity.ino !== ino) {
        return fault("replaced", watched);
      }
      if (!writable(watched, found.mode)) return fault("read_only", watched);
    }
    return undefined;
  }
}
