import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { APPLICATION_ID, Database, DatabaseRefusedError, SCHEMA_VERSION } from "./database.ts";
import { MIGRATIONS } from "./migrations.ts";
import { tempDir } from "../../tests/_helpers.ts";

function assertRefused(path: string, pattern: RegExp): void {
  const before = Deno.readFileSync(path);
  assert.throws(() => Database.open(path), (error: unknown) => {
    assert.ok(error instanceof DatabaseRefusedError);
    assert.match(error.message, pattern);
    return true;
  });
  assert.deepEqual(Deno.readFileSync(path), before, "the refused file is left untouched");
}

Deno.test("database creates a new file with WAL, secure delete and the latest schema", () => {
  using dir = tempDir();
  const db = Database.open(`${dir.path}/relay.db`);
  try {
    assert.equal(db.schemaVersion, SCHEMA_VERSION);
    const pragma = (name: string) => Object.values(db.handle.prepare(`PRAGMA ${name}`).get()!)[0];
    assert.equal(pragma("journal_mode"), "wal");
    assert.equal(pragma("secure_delete"), 1);
    assert.equal(pragma("busy_timeout"), 5000);
    assert.equal(pragma("application_id"), APPLICATION_ID);
  } finally {
    db.close();
  }
});

Deno.test("database keeps meta values across reopening", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const first = Database.open(path);
  first.setMeta("identity", new Uint8Array([1, 2, 3]));
  first.setMeta("identity", new Uint8Array([4, 5]));
  first.close();
  const second = Database.open(path);
  assert.deepEqual(second.getMeta("identity"), new Uint8Array([4, 5]));
  assert.equal(second.getMeta("missing"), undefined);
  second.close();
});

Deno.test("database migrates a file written by the first schema version and keeps its state", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const old = new DatabaseSync(path);
  old.exec(MIGRATIONS[0]!);
  old.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
  old.exec("PRAGMA user_version = 1");
  old.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run("kept", new Uint8Array([7]));
  old.close();

  const db = Database.open(path);
  assert.equal(db.schemaVersion, SCHEMA_VERSION);
  assert.deepEqual(db.getMeta("kept"), new Uint8Array([7]));
  db.close();
});

Deno.test("database refuses a SQLite file that belongs to another application", () => {
  using dir = tempDir();
  const path = `${dir.path}/other.db`;
  const other = new DatabaseSync(path);
  other.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)");
  other.exec("INSERT INTO invoices (total) VALUES (12.5)");
  other.close();
  assertRefused(path, /belongs to another application/);
});

Deno.test("database refuses a file that is not SQLite at all", () => {
  using dir = tempDir();
  const path = `${dir.path}/notes.txt`;
  Deno.writeTextFileSync(path, "These are my notes, not a database. ".repeat(100));
  assertRefused(path, /not a readable SQLite database/);
});

Deno.test("database refuses a corrupt file", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  db.setMeta("filler", new Uint8Array(64 * 1024).fill(9));
  db.close();
  const bytes = Deno.readFileSync(path);
  bytes.fill(0xff, 4096, 8192); // trash the second page, keep the header
  Deno.writeFileSync(path, bytes);
  assertRefused(path, /corrupt|not a readable SQLite database/);
});

Deno.test("database refuses a file from a newer relay", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  Database.open(path).close();
  const raw = new DatabaseSync(path);
  raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assertRefused(path, new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer`));
});

Deno.test("database says the folder must be created when it is missing", () => {
  using dir = tempDir();
  assert.throws(
    () => Database.open(`${dir.path}/missing/relay.db`),
    /folder ".*missing" does not exist \(create it first/,
  );
  assert.equal([...Deno.readDirSync(dir.path)].length, 0, "nothing was created");
});
