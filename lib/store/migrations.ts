/**
 * Schema migrations, applied in order by `lib/store/database.ts`. Entry N brings a database from
 * `user_version` N to N+1. Never edit an entry that has shipped; append a new one.
 *
 * @module
 */

/** The migration scripts, oldest first. */
export const MIGRATIONS: readonly string[] = [
  // 1: the relay's own state (identity keys, settings that must survive restarts).
  `CREATE TABLE meta (
     key   TEXT PRIMARY KEY,
     value BLOB NOT NULL
   ) STRICT;`,
];
