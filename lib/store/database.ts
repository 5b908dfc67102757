/**
 * The one SQLite layer: the relay's open database, the meta table that holds the relay's own
 * state, and its close. Everything that runs SQL lives under `lib/store/`; opening the file
 * (checks, pragmas, migrations) is `open.ts`.
 *
 * It also guards the file while the relay runs: one relay per file (a lock on `<db>.lock`), and
 * a file deleted, replaced or made read-only under the relay refuses storage with 503
 * `storage_unavailable` (through `fault_authorizer.ts`) instead of acknowledging writes that no
 * restart would find.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { type StorageFault, StorageUnavailableError, StorageWatch } from "./storage_watch.ts";
import {
  AUTHORIZED,
  authorizeUnder,
  beginsTransaction,
  type Connection,
  setAuthorizer,
} from "./fault_authorizer.ts";
import { openChecked, type OpenOptions, pragmaNumber, warnIfLitestream } from "./open.ts";
import { LOG_CATEGORY } from "../log.ts";

export { APPLICATION_ID, DatabaseRefusedError, type OpenOptions, SCHEMA_VERSION } from "./open.ts";

const log = getLogger([LOG_CATEGORY, "store"]);

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
    const { connection, lock } = openChecked(path, options);
    const database = new Database(connection, path, lock);
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
    if (beginsTransaction(action, detail)) {
      // The authorizer cannot be replaced while SQLite is preparing; right after is soon enough,
      // as this transaction is refused here.
      if (this.#recheck()) {
        queueMicrotask(() => this.#closed || setAuthorizer(this.handle, this.#authorize));
      }
      if (this.#fault) throw new StorageUnavailableError(this.#fault);
      return AUTHORIZED;
    }
    return authorizeUnder(this.#fault, action);
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

  /** Sets how much memory SQLite's page cache of this connection may hold, in bytes. */
  setCacheBytes(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 1024) {
      throw new RangeError(`Cannot give SQLite's page cache ${bytes} bytes: at least 1024`);
    }
    // A negative cache_size is in KiB.
    this.handle.exec(`PRAGMA cache_size = -${Math.floor(bytes / 1024)}`);
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
