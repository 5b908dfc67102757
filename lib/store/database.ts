/**
 * The one SQLite layer: opening the relay's database file, pragmas, schema migrations and the
 * meta table that holds the relay's own state. Everything that runs SQL lives under `lib/store/`.
 *
 * It also guards the file while the relay runs: one relay per file (a lock on `<db>.lock`), and
 * a file deleted, replaced or made read-only under the relay refuses storage with 503
 * `storage_unavailable` instead of acknowledging writes that no restart would find.
 *
 * @module
 */
import { constants, DatabaseSync, type StatementSync } from "node:sqlite";
import { basename, dirname, join, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { MIGRATIONS } from "./migrations.ts";
import { type StorageFault, StorageUnavailableError, StorageWatch } from "./storage_watch.ts";
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

/** Options for {@linkcode Database.open}. */
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

/** SQLite's result code of a statement its authorizer refused. */
const SQLITE_AUTH = 23;

/**
 * The connection: a `DatabaseSync` whose `prepare` reports a statement refused under a storage
 * fault as that fault. (The authorizer's exception survives `exec` and a statement's step, but
 * `prepare` turns it into a plain "not authorized".)
 */
class Connection extends DatabaseSync {
  /** The fault in effect; set by the {@linkcode Database} that owns the connection. */
  fault: () => StorageFault | undefined = () => undefined;

  override prepare(...args: Parameters<DatabaseSync["prepare"]>): StatementSync {
    try {
      return super.prepare(...args);
    } catch (error) {
      const fault = this.fault();
      if (fault && (error as { errcode?: number }).errcode === SQLITE_AUTH) {
        throw new StorageUnavailableError(fault);
      }
      throw error;
    }
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

function pragmaNumber(db: DatabaseSync, name: string): number {
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
  db.exec("PRAGMA secure_delete = ON");
  db.exec("PRAGMA foreign_keys = ON");
  if (options.checkpoint === "external") db.exec("PRAGMA wal_autocheckpoint = 0");
}

/**
 * Warns when Litestream's shadow log (`.<name>-litestream`, beside the database) exists while the
 * relay checkpoints on its own: two checkpointers compete (a stop then waits out the busy timeout
 * on Litestream's read lock). The folder may also be left over from an earlier set-up.
 */
function warnIfLitestream(path: string): void {
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

/** SQLite's authorizer codes: node:sqlite has them, Deno's bundled Node types do not list them. */
const AUTH = constants as unknown as Readonly<
  Record<
    | "SQLITE_OK"
    | "SQLITE_PRAGMA"
    | "SQLITE_READ"
    | "SQLITE_SELECT"
    | "SQLITE_TRANSACTION"
    | "SQLITE_FUNCTION"
    | "SQLITE_RECURSIVE",
    number
  >
>;

/** Statements a faulty database still runs when its open file may be read. */
const READ_ACTIONS: ReadonlySet<number> = new Set([
  AUTH.SQLITE_SELECT,
  AUTH.SQLITE_READ,
  AUTH.SQLITE_FUNCTION,
  AUTH.SQLITE_RECURSIVE,
]);

/** An authorizer: the action code and up to four details (names of tables, columns, …). */
type Authorizer = (action: number, detail: string | null) => number;

/**
 * Installs `authorizer` (`DatabaseSync.setAuthorizer`, in the runtime but not yet in Deno's
 * bundled Node types). SQLite expires every prepared statement when it changes.
 */
function setAuthorizer(handle: DatabaseSync, authorizer: Authorizer): void {
  (handle as unknown as { setAuthorizer(callback: Authorizer): void }).setAuthorizer(authorizer);
}

/**
 * The relay's open database: the raw handle for the store modules, the meta table, the storage
 * watch, and a clean close that checkpoints the write-ahead log.
 */
export class Database {
  #closed = false;
  #checkpointOnClose = true;
  readonly #lock: Deno.FsFile | undefined;
  readonly #watch: StorageWatch | undefined;
  #fault: StorageFault | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The underlying handle. Only modules under `lib/store/` use it. */
  readonly handle: DatabaseSync;

  private constructor(
    handle: Connection,
    /** The path it was opened from. */
    readonly path: string,
    lock: Deno.FsFile | undefined,
  ) {
    this.handle = handle;
    handle.fault = () => this.#fault;
    this.#lock = lock;
    if (path === ":memory:") return;
    this.#watch = new StorageWatch(path);
    setAuthorizer(this.handle, this.#authorize);
  }

  /**
   * Opens (creating if needed) the relay database at `path`, applies pragmas and migrations.
   *
   * @throws {DatabaseRefusedError} when the folder is missing or the file is not usable.
   */
  static open(path: string, options: OpenOptions = {}): Database {
    checkFolder(path);
    const lock = lockFile(path);
    let db;
    try {
      db = openFile(path);
    } catch (error) {
      lock?.close();
      throw error;
    }
    try {
      checkOwnership(db, path);
      checkIntegrity(db, path);
      applyPragmas(db, options);
      migrate(db);
    } catch (error) {
      db.close();
      lock?.close();
      if (error instanceof DatabaseRefusedError) throw error;
      throw new DatabaseRefusedError(
        `Cannot use database "${path}": ${(error as Error).message}`,
      );
    }
    const database = new Database(db, path, lock);
    database.#checkpointOnClose = options.checkpoint !== "external";
    if (options.checkpoint !== "external") warnIfLitestream(path);
    return database;
  }

  /**
   * The storage fault found by the last check, or `undefined` while the file is healthy. A full
   * disk is not a fault: writes then get 507 `storage_full` and everything else is served.
   */
  get fault(): StorageFault | undefined {
    return this.#fault;
  }

  /**
   * Checks the file every `intervalMs` until {@linkcode close} (writes also check before each
   * transaction). A fault is logged once when it starts and once when it ends.
   */
  watch(intervalMs: number): void {
    if (!this.#watch || this.#closed || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Checks the file now and returns the fault in effect, if any. */
  check(): StorageFault | undefined {
    // A new authorizer expires every prepared statement, so cached ones are authorized anew.
    if (this.#recheck()) setAuthorizer(this.handle, this.#authorize);
    return this.#fault;
  }

  /** Updates the fault from a check; true when statements prepared before must be re-checked. */
  #recheck(): boolean {
    if (!this.#watch || this.#closed || this.#fault?.permanent) return false;
    const before = this.#fault;
    const found = this.#watch.check();
    if (found?.kind === before?.kind && found?.file === before?.file) return false;
    this.#fault = found;
    if (found) {
      const refused = found.readable ? "Writes answer" : "Reads and writes answer";
      const until = found.permanent ? "until then" : "until that is fixed";
      log.error(
        `Storage fault of database {path}: ${found.reason}. ${refused} 503 storage_unavailable ` +
          until,
        { path: this.path, file: found.file, fault: found.kind },
      );
    } else {
      log.warn("Storage fault over: database {path} is usable again", { path: this.path });
    }
    return found !== undefined;
  }

  /**
   * SQLite's authorizer, consulted whenever a statement is prepared: a transaction (how the store
   * writes) checks the file first, and under a fault writes, and reads of a deleted or replaced
   * file, are refused with {@linkcode StorageUnavailableError}. While healthy it costs one check
   * per transaction and nothing per cached statement.
   */
  #authorize = (action: number, detail: string | null): number => {
    if (action === AUTH.SQLITE_TRANSACTION && detail === "BEGIN") {
      // The authorizer cannot be replaced while SQLite is preparing; right after is soon enough,
      // as this transaction is refused here.
      if (this.#recheck()) {
        queueMicrotask(() => this.#closed || setAuthorizer(this.handle, this.#authorize));
      }
      if (this.#fault) throw new StorageUnavailableError(this.#fault);
      return AUTH.SQLITE_OK;
    }
    const fault = this.#fault;
    if (!fault || action === AUTH.SQLITE_TRANSACTION || action === AUTH.SQLITE_PRAGMA) {
      return AUTH.SQLITE_OK;
    }
    if (fault.readable && READ_ACTIONS.has(action)) return AUTH.SQLITE_OK;
    throw new StorageUnavailableError(fault);
  };

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return pragmaNumber(this.handle, "user_version");
  }

  /** Reads a value of the relay's own state, or `undefined`. */
  getMeta(key: string): Uint8Array | undefined {
    const row = this.handle.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
      | { value: Uint8Array }
      | undefined;
    return row?.value;
  }

  /** Writes a value of the relay's own state. */
  setMeta(key: string, value: Uint8Array): void {
    this.handle.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  /**
   * Caps the file at `pages` pages (SQLite clamps it to no less than the current size) and
   * returns the cap in effect. A test hook: a full disk is simulated by leaving no room to grow.
   */
  setMaxPageCount(pages: number): number {
    if (!Number.isSafeInteger(pages) || pages < 1) {
      throw new RangeError(
        `Cannot cap the database at ${pages} pages: expected a positive integer`,
      );
    }
    const row = this.handle.prepare(`PRAGMA max_page_count = ${pages}`).get() as {
      max_page_count: number;
    };
    return row.max_page_count;
  }

  /**
   * Stops the watch, checkpoints the write-ahead log into the main file, closes and releases the
   * lock. A checkpoint that cannot be written (a full disk) is logged, not thrown: the log keeps
   * every committed write and SQLite applies it at the next open. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      // Into a deleted or replaced file a checkpoint would only write what no one will read.
      if (this.#checkpointOnClose && !this.#fault?.permanent) {
        this.handle.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      }
    } catch (error) {
      log.warn(
        "Final checkpoint of database {path} failed: {reason}; the write-ahead log keeps " +
          "every committed write and is applied at the next start",
        { path: this.path, reason: (error as Error).message },
      );
    } finally {
      this.handle.close();
      this.#lock?.close();
    }
  }
}
