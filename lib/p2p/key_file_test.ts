import assert from "node:assert/strict";
import { identityBeside, identityFilePath } from "./key_file.ts";

Deno.test("a relay without a database keeps its key beside --db, or in memory for :memory:", () => {
  assert.equal(
    identityFilePath("/var/lib/vaultmesh-relay/relay.db"),
    "/var/lib/vaultmesh-relay/relay.p2p-key",
  );
  assert.equal(identityFilePath("state.sqlite"), "state.sqlite.p2p-key");
  assert.equal(identityFilePath(":memory:"), undefined);
  const dir = Deno.makeTempDirSync();
  try {
    const store = identityBeside(`${dir}/relay.db`);
    assert.equal(store.read(), undefined, "no key before the first start");
    store.write(new Uint8Array([1, 2, 3]));
    assert.deepEqual(identityBeside(`${dir}/relay.db`).read(), new Uint8Array([1, 2, 3]));
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["relay.p2p-key"]);
    const memory = identityBeside(":memory:");
    memory.write(new Uint8Array([4]));
    assert.deepEqual(memory.read(), new Uint8Array([4]));
    assert.equal(identityBeside(":memory:").read(), undefined, "gone with the process");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a key file that holds no key is refused with a clear error, not a stack trace", async () => {
  const { loadOrCreateIdentity } = await import("./identity.ts");
  const garbage = { read: () => new Uint8Array([1, 2, 3]), write: () => {} };
  await assert.rejects(loadOrCreateIdentity(garbage), (error: Error) => {
    assert.equal(error.name, "P2pKeyError");
    assert.match(error.message, /not a key .*remove it to make a new one/);
    return true;
  });
});
