/**
 * The one SQLite layer: opening the relay's database file, pragmas, schema migrations and the
 * meta table that holds the relay's own state. Everything that runs SQL lives under `lib/store/`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import { MIGRATIONS } from "./migrations.ts";

/** `PRAGMA application_id` of a VaultMesh relay database: "VMR3" in ASCII. */
export const APPLICATION_ID = 0x564d5233;

/** The schema version this binary writes; newer files are refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The database cannot be used: missing folder, not ours, corrupt or too new. Exit status 1. */
export class DatabaseRefusedError extends Error {
  override name = "DatabaseRefusedError";
}

/** Options for {@linkcode openDatabase}. */
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

function checkFolder(path: string): void {
  if (path === ":memory:") return;
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": folder "${folder}" does not exist (create it first; ` +
        "the relay does not create folders)",
    );
  }
  if (!statSync(folder).isDirectory()) {
    throw new DatabaseRefusedError(
      `Cannot open database "${path}": "${folder}" is not a folder`,
    );
  }
}

function openFile(path: string): DatabaseSync {
  try {
    return new DatabaseSync(path);
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

/**
 * The relay's open database: the raw handle for the store modules, the meta table, and a clean
 * close that checkpoints the write-ahead log.
 */
export class Database {
  #closed = false;
  #checkpointOnClose = true;

  private constructor(
    /** The underlying handle. Only modules under `lib/store/` use it. */
    readonly handle: DatabaseSync,
    /** The path it was opened from. */
    readonly path: string,
  ) {}

  /**
   * Opens (creating if needed) the relay database at `path`, applies pragmas and migrations.
   *
   * @throws {DatabaseRefusedError} when the folder is missing or the file is not usable.
   */
  static open(path: string, options: OpenOptions = {}): Database {
    checkFolder(path);
    const db = openFile(path);
    try {
      checkOwnership(db, path);
      checkIntegrity(db, path);
      applyPragmas(db, options);
      migrate(db);
    } catch (error) {
      db.close();
      if (error instanceof DatabaseRefusedError) throw error;
      throw new DatabaseRefusedError(
        `Cannot use database "${path}": ${(error as Error).message}`,
      );
    }
    const database = new Database(db, path);
    database.#checkpointOnClose = options.checkpoint !== "external";
    return database;
  }

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

  /** Checkpoints the write-ahead log into the main file and closes. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#checkpointOnClose) this.handle.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      this.handle.close();
    }
  }
}
