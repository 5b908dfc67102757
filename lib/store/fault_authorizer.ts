/**
 * How a storage fault reaches SQL: SQLite's authorizer, consulted whenever a statement is
 * prepared, refuses writes (and reads of a deleted or replaced file) with
 * {@linkcode StorageUnavailableError}; the {@linkcode Connection} reports such a refusal as the
 * fault. `database.ts` decides when a fault is in effect.
 *
 * @module
 */
import { constants, DatabaseSync, type StatementSync } from "node:sqlite";
import { type StorageFault, StorageUnavailableError } from "./storage_watch.ts";

/** SQLite's result code of a statement its authorizer refused. */
const SQLITE_AUTH = 23;

/**
 * The connection: a `DatabaseSync` whose `prepare` reports a statement refused under a storage
 * fault as that fault. (The authorizer's exception survives `exec` and a statement's step, but
 * `prepare` turns it into a plain "not authorized".)
 */
export class Connection extends DatabaseSync {
  /** The fault in effect; set by the `Database` that owns the connection. */
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
export type Authorizer = (action: number, detail: string | null) => number;

/** The authorizer's answer that lets a statement run (`SQLITE_OK`). */
export const AUTHORIZED: number = AUTH.SQLITE_OK;

/**
 * Installs `authorizer` (`DatabaseSync.setAuthorizer`, in the runtime but not yet in Deno's
 * bundled Node types). SQLite expires every prepared statement when it changes.
 */
export function setAuthorizer(handle: DatabaseSync, authorizer: Authorizer): void {
  (handle as unknown as { setAuthorizer(callback: Authorizer): void }).setAuthorizer(authorizer);
}

/** Whether the statement being authorized is a `BEGIN`: how the store starts every write. */
export function beginsTransaction(action: number, detail: string | null): boolean {
  return action === AUTH.SQLITE_TRANSACTION && detail === "BEGIN";
}

/**
 * The authorizer's answer for `action` (other than a `BEGIN`) under `fault`: every statement
 * runs while there is none; under one, the end of a transaction and pragmas still run, reads
 * run while the open file may be read, and the rest is refused.
 *
 * @throws {StorageUnavailableError} for a statement refused under `fault`.
 */
export function authorizeUnder(fault: StorageFault | undefined, action: number): number {
  if (!fault || action === AUTH.SQLITE_TRANSACTION || action === AUTH.SQLITE_PRAGMA) {
    return AUTH.SQLITE_OK;
  }
  if (fault.readable && READ_ACTIONS.has(action)) return AUTH.SQLITE_OK;
  throw new StorageUnavailableError(fault);
}
