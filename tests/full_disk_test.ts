import assert from "node:assert/strict";
import { RelayError } from "../lib/client/mod.ts";
import { bytes, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";

Deno.test("a full disk answers 507 storage_full to writes while reads keep working and nothing is lost", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { rateLimitVault: null, rateLimitIp: null });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  for (let i = 0; i < 3; i++) await laptop!.send(bytes(`kept ${i}`));
  await phone!.backlog();

  // No room to grow: SQLite refuses any write needing a new page.
  relay.database.setMaxPageCount(1);
  const big = new Uint8Array(256 * 1024).fill(1);
  let refused: RelayError | undefined;
  for (let i = 0; i < 8 && !refused; i++) {
    try {
      await laptop!.send(big);
    } catch (error) {
      refused = error as RelayError;
    }
  }
  assert.ok(refused instanceof RelayError, "a write was refused");
  assert.equal(refused.status, 507);
  assert.equal(refused.code, "storage_full");

  const page = await phone!.backlog();
  assert.deepEqual(page.envelopes.slice(0, 3).map((e) => text(e.body)), [
    "kept 0",
    "kept 1",
    "kept 2",
  ]);
  assert.equal((await laptop!.usage()).envelopes >= 3, true);
  const ack = await phone!.request("POST", "/ack", {
    body: bytes(JSON.stringify({ seq: 1 })),
    headers: { "content-type": "application/json" },
  });
  assert.ok(ack.status === 200 || ack.status === 507, `ack answered ${ack.status}`);
  await ack.body?.cancel();
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();

  relay.database.setMaxPageCount(1_073_741_823);
  assert.equal((await laptop!.send(bytes("after"))).stored, true, "writes resume with room");
  const after = await phone!.backlog();
  assert.ok(after.envelopes.some((e) => text(e.body) === "after"));
});
