import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { APPLICATION_ID, Database, DatabaseRefusedError, SCHEMA_VERSION } from "./database.ts";
import { StorageUnavailableError } from "./storage_watch.ts";
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

Deno.test("database creates a new file with WAL, fast secure delete and the latest schema", () => {
  using dir = tempDir();
  const db = Database.open(`${dir.path}/relay.db`);
  try {
    assert.equal(db.schemaVersion, SCHEMA_VERSION);
    const pragma = (name: string) => Object.values(db.handle.prepare(`PRAGMA ${name}`).get()!)[0];
    assert.equal(pragma("journal_mode"), "wal");
    assert.equal(pragma("secure_delete"), 2, "FAST");
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

Deno.test("database refuses a file another relay holds, and opens it once that one closed", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const first = Database.open(path);
  try {
    assert.throws(() => Database.open(path), (error: unknown) => {
      assert.ok(error instanceof DatabaseRefusedError);
      assert.equal(
        error.message,
        `Cannot open database "${path}": another relay is using it (it holds the lock on ` +
          `"${path}.lock"); stop that relay or pass another --db`,
      );
      return true;
    });
  } finally {
    first.close();
  }
  Database.open(path).close();
  assert.ok(Deno.statSync(`${path}.lock`).isFile, "the lock file stays; only its lock goes");
});

Deno.test("database releases its lock when it refuses a file", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  Deno.writeTextFileSync(path, "not a database ".repeat(100));
  assert.throws(() => Database.open(path), DatabaseRefusedError);
  Deno.removeSync(path);
  Database.open(path).close();
});

function fillerRow(db: Database, size = 64): void {
  db.handle.exec("BEGIN IMMEDIATE");
  db.setMeta(`filler-${crypto.randomUUID()}`, new Uint8Array(size));
  db.handle.exec("COMMIT");
}

function assertUnavailable(work: () => unknown, reason: RegExp): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof StorageUnavailableError, String(error));
    assert.equal(error.code, "storage_unavailable");
    assert.equal(error.status, 503);
    assert.match(error.message, reason);
    return true;
  });
}

Deno.test("database refuses a write transaction into a deleted file before it starts, and reads after", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  try {
    db.setMeta("kept", new Uint8Array([1]));
    fillerRow(db);
    assert.equal(db.check(), undefined);
    Deno.removeSync(path);
    // No timer runs here: the transaction itself checks first.
    assertUnavailable(() => fillerRow(db), /database file was deleted while the relay was running/);
    assert.equal(db.handle.isTransaction, false, "nothing was begun");
    assert.equal(db.fault?.kind, "deleted");
    assert.equal(db.fault?.readable, false);
    // Statements prepared before the fault are checked anew: reads and plain writes are refused.
    assertUnavailable(() => db.getMeta("kept"), /deleted/);
    assertUnavailable(() => db.setMeta("kept", new Uint8Array([2])), /deleted/);
    // A deleted file stays a fault even if something appears at the path again.
    Deno.writeFileSync(path, new Uint8Array());
    assert.equal(db.check()?.kind, "deleted");
  } finally {
    db.close();
  }
});

Deno.test("database notices a replaced file on its check and refuses reads and writes", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  try {
    db.setMeta("kept", new Uint8Array([1]));
    Deno.copyFileSync(path, `${path}.copy`);
    Deno.renameSync(`${path}.copy`, path);
    assert.equal(db.check()?.kind, "replaced");
    assert.equal(
      db.fault?.reason,
      "the database file was replaced while the relay was running; restart the relay",
    );
    assertUnavailable(() => db.getMeta("kept"), /replaced/);
  } finally {
    db.close();
  }
});

Deno.test("database refuses writes but serves reads while its file is read-only, and recovers", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  try {
    db.setMeta("kept", new Uint8Array([1]));
    Deno.chmodSync(path, 0o444);
    assert.equal(db.check()?.kind, "read_only");
    assert.equal(db.fault?.reason, "the database file is read-only");
    assertUnavailable(() => fillerRow(db), /read-only/);
    assertUnavailable(() => db.setMeta("kept", new Uint8Array([2])), /read-only/);
    assert.deepEqual(db.getMeta("kept"), new Uint8Array([1]), "reads are served");
    Deno.chmodSync(path, 0o644);
    assert.equal(db.check(), undefined);
    db.setMeta("kept", new Uint8Array([3]));
    fillerRow(db);
    assert.deepEqual(db.getMeta("kept"), new Uint8Array([3]));
  } finally {
    db.close();
  }
});

Deno.test("database watches its write-ahead log too", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  try {
    fillerRow(db);
    Deno.removeSync(`${path}-wal`);
    assertUnavailable(() => fillerRow(db), /write-ahead log was deleted/);
  } finally {
    db.close();
  }
});

Deno.test("database checks on its timer until it closes", async () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const db = Database.open(path);
  try {
    db.watch(20);
    Deno.chmodSync(path, 0o400);
    const deadline = Date.now() + 5000;
    while (!db.fault && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(db.fault?.kind, "read_only");
  } finally {
    db.close();
  }
});

Deno.test("an in-memory database takes no lock and has no watch", () => {
  const first = Database.open(":memory:");
  const second = Database.open(":memory:");
  first.watch(10);
  assert.equal(first.check(), undefined);
  first.close();
  second.close();
});
