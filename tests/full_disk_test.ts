import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { RelayError } from "../lib/client/mod.ts";
import { ManualClock } from "../lib/clock.ts";
import {
  bytes,
  startHourlyRelay,
  startRelay,
  sweepOf,
  tempDir,
  text,
  vaultDevices,
} from "./_helpers.ts";
import { mountTmpfs, TMPFS_UNAVAILABLE } from "./_tmpfs.ts";

Deno.test("a full disk answers 507 storage_full to writes while reads keep working and nothing is lost", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { rateLimitVault: null, rateLimitIp: null });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  for (let i = 0; i < 3; i++) await laptop!.send(bytes(`kept ${i}`));
  await phone!.backlog();

  // No room to grow: SQLite refuses any write needing a new page.
  relay.database!.setMaxPageCount(1);
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

  relay.database!.setMaxPageCount(1_073_741_823);
  assert.equal((await laptop!.send(bytes("after"))).stored, true, "writes resume with room");
  const after = await phone!.backlog();
  assert.ok(after.envelopes.some((e) => text(e.body) === "after"));
});

/** Status and error code of a raw request, the body consumed. */
async function outcome(response: Promise<Response>): Promise<string> {
  const answer = await response;
  const body = await answer.json().catch(() => ({})) as { error?: string };
  return body.error ? `${answer.status} ${body.error}` : String(answer.status);
}

function storedEnvelopes(path: string): number[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("SELECT seq FROM envelopes ORDER BY seq").all() as { seq: number }[];
    return rows.map((row) => row.seq);
  } finally {
    db.close();
  }
}

Deno.test({
  name:
    "on a full file system writes get 507, nothing answers 500, and a stop keeps every envelope",
  ignore: TMPFS_UNAVAILABLE !== undefined,
  async fn() {
    await using disk = await mountTmpfs(4096);
    const clock = new ManualClock();
    const unlimited = { rateLimitVault: null, rateLimitIp: null };
    const relay = await startHourlyRelay(disk.path, clock, unlimited);
    try {
      const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"], { clock });
      const [other] = await vaultDevices(relay.url, ["other"], { clock });
      for (let i = 0; i < 5; i++) await laptop!.send(bytes(`kept ${i}`));
      await other!.send(bytes("to purge"));
      assert.equal((await phone!.backlog()).envelopes.length, 5);

      assert.ok(disk.fill() > 0);
      const big = new Uint8Array(256 * 1024).fill(7);
      const sends: string[] = [];
      for (let i = 0; i < 8 && !sends.includes("507 storage_full"); i++) {
        sends.push(await outcome(laptop!.request("POST", "/envelopes", { body: big })));
      }
      assert.equal(sends.at(-1), "507 storage_full", sends.join(", "));

      // Reads of devices seen recently are served; acks and purges are writes: 200 or 507.
      assert.equal((await phone!.backlog()).envelopes.length, 5);
      assert.equal((await laptop!.usage()).envelopes >= 5, true);
      const ack = await outcome(phone!.request("POST", "/ack", {
        body: bytes(JSON.stringify({ seq: 1 })),
        headers: { "content-type": "application/json" },
      }));
      assert.ok(ack === "200" || ack === "507 storage_full", `ack: ${ack}`);
      const purge = await outcome(other!.request("DELETE", ""));
      assert.ok(purge === "200" || purge === "507 storage_full", `purge: ${purge}`);
      const health = await fetch(`${relay.url}/health`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");

      // The sweep meets the full disk too; it fails without ending anything and runs again later.
      clock.advance(3600_000 + 1);
      await sweepOf(relay)().catch((error) =>
        assert.equal((error as Error).name, "StorageFullError")
      );
    } finally {
      // The final checkpoint has no room: the stop still completes.
      await relay.stop();
    }
    const seqs = storedEnvelopes(`${disk.path}/relay.db`);
    for (const seq of [2, 3, 4, 5]) assert.ok(seqs.includes(seq), `seq ${seq} kept: ${seqs}`);

    disk.unfill();
    await using again = await startHourlyRelay(disk.path, clock, unlimited);
    assert.ok(await sweepOf(again)() >= 4, "with room the sweep deletes the expired envelopes");
  },
});
