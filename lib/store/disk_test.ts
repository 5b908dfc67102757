import assert from "node:assert/strict";
import { AUTO_MAX_DB_BYTES, freeBytes, resolveMaxDbBytes } from "./disk.ts";

Deno.test("--max-db-size given is used as is", () => {
  assert.equal(resolveMaxDbBytes(123_456, "/tmp/relay.db"), 123_456);
});

Deno.test("--max-db-size auto is half the free space of the database's file system, capped", () => {
  const free = freeBytes("/tmp/relay.db");
  assert.ok(free !== undefined && free > 0);
  assert.equal(
    resolveMaxDbBytes(null, "/tmp/relay.db"),
    Math.min(AUTO_MAX_DB_BYTES, Math.floor(free / 2)),
  );
});
