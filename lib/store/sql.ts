/**
 * Prepared statements and transactions on the relay database, shared by the store modules.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** The disk (or the database's size cap) is full; nothing of the failed transaction was kept. */
export class StorageFullError extends Error {
  override name = "StorageFullError";
}

/** Whether `error` is SQLite's "database or disk is full". */
export function isDiskFull(error: unknown): boolean {
  return /database or disk is full|SQLITE_FULL/i.test(String((error as Error)?.message));
}

/** A cache of prepared statements on one connection, and its transactions. */
export class Sql {
  readonly #statements = new Map<string, StatementSync>();

  constructor(readonly db: DatabaseSync) {}

  /** The prepared statement for `text`, prepared once. */
  get(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `work` in one write transaction.
   *
   * @throws {StorageFullError} when the disk or the size cap is full; nothing was written then.
   */
  transaction<T>(work: () => T): T {
    try {
      this.db.exec("BEGIN IMMEDIATE");
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      if (isDiskFull(error)) throw new StorageFullError("The relay's storage is full");
      throw error;
    }
  }
}
