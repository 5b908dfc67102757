/**
 * Opening the relay's database file, and refusing one the relay must not use: a missing folder, a
 * file another relay holds (a lock on `<db>.lock`), a file of another application, a corrupt file
 * or one written by a newer relay. Then the pragmas and the schema migrations.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { basename, dirname, join, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { MIGRATIONS } from "./migrations.ts";
import { Connection } from "./fault_authorizer.ts";
import { LOG_CATEGORY } from "../log.ts";

const log = getLogger([LOG_CATEGORY, "store"]);

/** `PRAGMA application_id` of a VaultMesh relay database: "VMR3" in ASCII. */
export const APPLICATION_ID = 0x564d5233;

/** The schema version this binary writes; newer files are refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The database cannot be used: missing folder, not ours, corrupt or too new. Exit status 1. */
export class DatabaseRefusedError extends Error {
  override name = "DatabaseRefusedError";
}

/** Options for opening the database (`Database.open`). */
export interface OpenOptions {
  /** Milliseconds to wait on a locked database before failing. */
  readonly busyTimeoutMs?: number;
  /**
   * Who checkpoints the write-ahead log. `external`: the relay never does (no automatic
   * checkpoints, none at close), because Litestream must be the only checkpointer: a checkpoint
   * of its own could move pages out of the log before Litestream copied them.
   */
  readonly checkpoint?: "relay" | "external";
}

/** A database file opened, checked and migrated, with the lock that makes it this relay's. */
export interface OpenedFile {
  readonly connection: Connection;
  /** The lock on `<path>.lock`; none for `:memory:`. */
  readonly lock: Deno.FsFile | undefined;
}

/**
 * Opens (creating if needed) the database file at `path`, checks that the relay may use it,
 * applies pragmas and migrations. On failure nothing stays open.
 *
 * @throws {DatabaseRefusedError} when the folder is missing or the file is not usable.
 */
export function openChecked(path: string, options: OpenOptions): OpenedFile {
  checkFolder(path);
  const lock = lockFile(path);
  let connection;
  try {
    connection = openFile(path);
  } catch (error) {
    lock?.close();
    throw error;
  }
  try {
    checkOwnership(connection, path);
    checkIntegrity(connection, path);
    applyPragmas(connection, options);
    migrate(connection);
  } catch (error) {
    connection.close();
    lock?.close();
    if (error instanceof DatabaseRefusedError) throw error;
    throw new DatabaseRefusedError(
      `Cannot use database "${path}": ${(error as Error).message}`,
    );
  }
  return { connection, lock };
}

/**
 * Takes the exclusive lock on `<path>.lock` that marks the database as one relay's, or refuses.
 * The kernel releases it when the process ends, however it ends (`kill -9` included), so a
 * leftover lock file never blocks a restart; the file itself is left in place on purpose.
 */
function lockFile(path: string): Deno.FsFile | undefined {
  if (path === ":memory:") return undefined;
  const lockPath = `${path}.lock`;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(lockPath, { read: true, write: true, create: true });
  } catch (error) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": cannot create its lock file "${lockPath}" ` +
        `(${(error as Error).message})`,
    );
  }
  if (file.tryLockSync(true)) return file;
  file.close();
  throw new DatabaseRefusedError(
    `Cannot open database "${path}": another relay is using it (it holds the lock on ` +
      `"${lockPath}"); stop that relay or pass another --db`,
  );
}

function checkFolder(path: string): void {
  if (path === ":memory:") return;
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": folder "${folder}" does not exist (create it first; ` +
        "the relay does not create folders)",
    );
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": it is a folder; name the database file inside it, ` +
        `e.g. "${join(path, "relay.db")}"`,
    );
  }
  if (!statSync(folder).isDirectory()) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": "${folder}" is not a folder`,
    );
  }
}

function openFile(path: string): Connection {
  try {
    return new Connection(path);
  } catch (error) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": ${(error as Error).message}`,
    );
  }
}

/** The value of a numeric pragma (`user_version`, `application_id`, …), 0 when it has none. */
export function pragmaNumber(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get() as Record<string, number> | undefined;
  return row?.[name] ?? 0;
}

function userTableCount(db: DatabaseSync): number {
  const row = db.prepare(
    "SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
  ).get() as { n: number };
  return row.n;
}

function checkOwnership(db: DatabaseSync, path: string): void {
  let applicationId: number, tables: number, version: number;
  try {
    applicationId = pragmaNumber(db, "application_id");
    tables = userTableCount(db);
    version = pragmaNumber(db, "user_version");
  } catch (error) {
    throw new DatabaseRefusedError(
      `Refusing database "${path}": it is not a readable SQLite database ` +
        `(${(error as Error).message}); move it aside or pass another --db`,
    );
  }
  const fresh = applicationId === 0 && tables === 0 && version === 0;
  if (!fresh && applicationId !== APPLICATION_ID) {
    throw new DatabaseRefusedError(
      `Refusing database "${path}": it belongs to another application; pass another --db`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new DatabaseRefusedError(
      `Refusing database "${path}": its schema version ${version} is newer than this relay ` +
        `understands (${SCHEMA_VERSION}); run a newer relay`,
    );
  }
}

function checkIntegrity(db: DatabaseSync, path: string): void {
  const row = db.prepare("PRAGMA quick_check(1)").get() as { quick_check: string } | undefined;
  if (row?.quick_check !== "ok") {
    throw new DatabaseRefusedError(
      `Refusing database "${path}": it is corrupt (${row?.quick_check ?? "no answer"}); ` +
        "restore a backup or move it aside",
    );
  }
}

function applyPragmas(db: DatabaseSync, options: OpenOptions): void {
  db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  db.exec("PRAGMA journal_mode = WAL");
  // FULL makes a committed transaction survive power loss, not only a killed process; group
  // commit keeps the cost of the extra fsync per batch, not per envelope.
  db.exec("PRAGMA synchronous = FULL");
  // A delete zeroes the cells it removes, on pages it writes anyway: an acknowledged envelope's
  // fields and a small body are gone from the file once the log is checkpointed. The overflow
  // pages of a large body are freed as they are and keep its ciphertext until reused; ON would
  // write each of them again, zeroed, which cost a stream of 64 KiB envelopes a quarter of the
  // relay's CPU (docs/BENCHMARKS.md). Either way the write-ahead log keeps old page images until
  // it wraps.
  db.exec("PRAGMA secure_delete = FAST");
  db.exec("PRAGMA foreign_keys = ON");
  if (options.checkpoint === "external") db.exec("PRAGMA wal_autocheckpoint = 0");
}

/**
 * Warns when Litestream's shadow log (`.<name>-litestream`, beside the database) exists while the
 * relay checkpoints on its own: two checkpointers compete (a stop then waits out the busy timeout
 * on Litestream's read lock). The folder may also be left over from an earlier set-up.
 */
export function warnIfLitestream(path: string): void {
  if (path === ":memory:") return;
  const shadow = join(dirname(path), `.${basename(path)}-litestream`);
  if (!existsSync(shadow)) return;
  log.warn(
    "Litestream seems to replicate database {path} ({shadow} exists), but the relay checkpoints " +
      "it too: run with --checkpoint external so that Litestream is the only checkpointer",
    { path, shadow },
  );
}

function migrate(db: DatabaseSync): void {
  const from = pragmaNumber(db, "user_version");
  for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[version - 1]!);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${version}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}
