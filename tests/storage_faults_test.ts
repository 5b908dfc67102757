/**
 * Storage faults under a running relay: its database file deleted, replaced or made read-only,
 * and a second relay on the same file. A fault turns `/health` to 503 with a reason and refuses
 * storage with 503 `storage_unavailable`; a write checks before it starts, so none is
 * acknowledged into a file no restart would find.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseRefusedError } from "../lib/store/database.ts";
import type { Relay } from "../lib/relay.ts";
import type { RelayClient } from "../lib/client/mod.ts";
import { relayCommand, spawnRelay } from "../scripts/relay_process.ts";
import { bytes, startRelay, tempDir, vaultDevices } from "./_helpers.ts";
import { immutable, mountTmpfs, TMPFS_UNAVAILABLE } from "./_tmpfs.ts";

const HEALTHY = {
  status: "ok",
  protocol: "vaultmesh-relay-3",
  mode: "store-and-forward",
  buffering: "enabled",
};
const DELETED = "the database file was deleted while the relay was running; restart the relay";

/** Status and error code of a response (`503 storage_unavailable`), its body consumed. */
async function outcome(response: Promise<Response>): Promise<string> {
  const answer = await response;
  const body = await answer.json().catch(() => ({})) as { error?: string };
  return body.error ? `${answer.status} ${body.error}` : String(answer.status);
}

function ackRequest(client: RelayClient, seq: number): Promise<Response> {
  return client.request("POST", "/ack", {
    body: bytes(JSON.stringify({ seq })),
    headers: { "content-type": "application/json" },
  });
}

async function health(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/health`);
  return { status: response.status, body: await response.json() };
}

/** Polls `/health` until its status is `status`; fails after `deadlineMs`. */
async function healthBecomes(url: string, status: number, deadlineMs = 5000) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const answer = await health(url);
    if (answer.status === status) return answer;
    if (Date.now() > until) assert.fail(`/health still ${answer.status} after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A relay with a vault: the laptop stored two envelopes, the phone has read them. */
async function relayWithVault(dir: string): Promise<{
  relay: Relay;
  laptop: RelayClient;
  phone: RelayClient;
}> {
  const relay = await startRelay(dir, { rateLimitVault: null, rateLimitIp: null });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  await laptop!.send(bytes("one"));
  await laptop!.send(bytes("two"));
  assert.equal((await phone!.backlog()).envelopes.length, 2);
  return { relay, laptop: laptop!, phone: phone! };
}

Deno.test("a database deleted under the relay refuses the next write at once and every read after", async () => {
  using dir = tempDir();
  const { relay, laptop, phone } = await relayWithVault(dir.path);
  await using _relay = relay;
  const socket = await laptop.connect();
  try {
    for (const suffix of ["", "-wal", "-shm"]) Deno.removeSync(`${dir.path}/relay.db${suffix}`);

    // Before any timer ran: the write checks the file first.
    const send = await laptop.request("POST", "/envelopes", { body: bytes("lost?") });
    assert.equal(send.status, 503);
    assert.equal(send.headers.get("retry-after"), "60");
    assert.deepEqual(await send.json(), {
      error: "storage_unavailable",
      message: `The relay's storage is unavailable: ${DELETED}`,
    });
    await assert.rejects(socket.send(bytes("lost too?")), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "storage_unavailable");
      return true;
    });
    assert.deepEqual(await health(relay.url), {
      status: 503,
      body: { ...HEALTHY, status: "error", reason: DELETED },
    });
    // Reads would come from a file no restart finds: refused, not served as if all were well.
    assert.equal(await outcome(phone.request("GET", "/envelopes")), "503 storage_unavailable");
    assert.equal(await outcome(phone.request("GET", "")), "503 storage_unavailable");
    assert.equal(await outcome(ackRequest(phone, 1)), "503 storage_unavailable");
    assert.equal(await outcome(laptop.request("DELETE", "")), "503 storage_unavailable");
    // Metrics and the status page still answer.
    assert.equal(await outcome(fetch(`${relay.url}/`)), "200");
  } finally {
    await socket.close();
  }
});

Deno.test("a database replaced under the relay is noticed by the periodic check without any write", async () => {
  using dir = tempDir();
  const { relay, phone } = await relayWithVault(dir.path);
  await using _relay = relay;
  const path = `${dir.path}/relay.db`;
  Deno.copyFileSync(path, `${path}.restored`);
  Deno.renameSync(`${path}.restored`, path);
  const answer = await healthBecomes(relay.url, 503);
  assert.equal(
    answer.body.reason,
    "the database file was replaced while the relay was running; restart the relay",
  );
  assert.equal(await outcome(phone.request("GET", "/envelopes")), "503 storage_unavailable");
});

Deno.test("a database made read-only refuses writes, serves reads, and recovers when writable", async () => {
  using dir = tempDir();
  const { relay, laptop, phone } = await relayWithVault(dir.path);
  await using _relay = relay;
  const path = `${dir.path}/relay.db`;
  Deno.chmodSync(path, 0o444);
  assert.equal(
    await outcome(laptop.request("POST", "/envelopes", { body: bytes("x") })),
    "503 storage_unavailable",
  );
  assert.deepEqual(await health(relay.url), {
    status: 503,
    body: { ...HEALTHY, status: "error", reason: "the database file is read-only" },
  });
  assert.equal((await phone.backlog()).envelopes.length, 2, "reads are served");
  assert.equal(await outcome(ackRequest(phone, 1)), "503 storage_unavailable");

  Deno.chmodSync(path, 0o644);
  assert.deepEqual((await healthBecomes(relay.url, 200)).body, HEALTHY);
  assert.equal((await laptop.send(bytes("three"))).stored, true);
  assert.equal((await phone.backlog()).envelopes.length, 3);
});

Deno.test({
  name:
    "a database whose files turn immutable on a real file system refuses writes and stops cleanly",
  ignore: TMPFS_UNAVAILABLE !== undefined,
  async fn() {
    await using disk = await mountTmpfs(8192);
    const { relay, laptop, phone } = await relayWithVault(disk.path);
    const files = [`${disk.path}/relay.db`, `${disk.path}/relay.db-wal`];
    try {
      // Writes through the relay's open files now fail too, as on a disk gone read-only.
      await immutable(files, true);
      assert.equal(
        await outcome(laptop.request("POST", "/envelopes", { body: bytes("x") })),
        "503 storage_unavailable",
      );
      assert.equal(
        (await health(relay.url)).body.reason,
        "the database's write-ahead log is read-only",
      );
      assert.equal((await phone.backlog()).envelopes.length, 2, "reads are served");
      // The final checkpoint cannot be written: logged, and the stop completes.
      await relay.stop();
    } finally {
      await immutable(files, false);
      await relay.stop();
    }
    await using again = await startRelay(disk.path);
    const [reader] = await vaultDevices(again.url, ["reader"]);
    assert.equal((await health(again.url)).status, 200);
    assert.equal((await reader!.usage()).envelopes, 0, "a new vault on the reopened file");
  },
});

Deno.test("a second relay on the same database is refused at once, and starts once the first stopped", async () => {
  using dir = tempDir();
  const first = await startRelay(dir.path);
  try {
    await assert.rejects(startRelay(dir.path), (error: unknown) => {
      assert.ok(error instanceof DatabaseRefusedError);
      const path = `${dir.path}/relay.db`;
      assert.equal(
        error.message,
        `Cannot open database "${path}": another relay is using it (it holds the lock on ` +
          `"${path}.lock"); stop that relay or pass another --db`,
      );
      return true;
    });
  } finally {
    await first.stop();
  }
  await using second = await startRelay(dir.path);
  assert.equal((await health(second.url)).status, 200);
});

function relayArgs(dir: string): string[] {
  return ["--listen", "127.0.0.1:0", "--db", `${dir}/relay.db`, "--p2p-port", "0"];
}

Deno.test("a second relay process on the same database exits 1 at once; kill -9 of the first frees it", async () => {
  using dir = tempDir();
  await using first = await spawnRelay(relayArgs(dir.path));
  const second = await relayCommand(relayArgs(dir.path)).output();
  const stderr = new TextDecoder().decode(second.stderr);
  assert.equal(second.code, 1, stderr);
  assert.match(stderr, /Cannot open database ".*relay\.db": another relay is using it/);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);

  assert.equal((await first.stop("SIGKILL")).signal, "SIGKILL");
  await using third = await spawnRelay(relayArgs(dir.path));
  assert.equal((await health(third.url)).status, 200);
  assert.equal((await third.stop("SIGTERM")).code, 0);
  await using fourth = await spawnRelay(relayArgs(dir.path));
  assert.equal((await fourth.stop("SIGTERM")).code, 0, "a clean exit released it too");
});

Deno.test("a relay process logs a deleted database once, answers 503, and still exits 0", async () => {
  using dir = tempDir();
  await using relay = await spawnRelay(relayArgs(dir.path));
  for (const suffix of ["", "-wal", "-shm"]) Deno.removeSync(`${dir.path}/relay.db${suffix}`);
  assert.equal((await healthBecomes(relay.url, 503)).body.reason, DELETED);
  // Three more checks find the same fault; it is not logged again.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const status = await relay.stop("SIGTERM");
  const faults = relay.lines.filter((line) => line.includes("Storage fault"));
  assert.equal(faults.length, 1, faults.join("\n"));
  assert.match(faults[0]!, /relay\.db.*was deleted while the relay was running/);
  assert.equal(status.code, 0, relay.lines.join("\n"));
});

Deno.test({
  name: "a relay process on a full file system exits 0 on SIGTERM and keeps what it stored",
  ignore: TMPFS_UNAVAILABLE !== undefined,
  async fn() {
    await using disk = await mountTmpfs(4096);
    {
      await using relay = await spawnRelay(relayArgs(disk.path));
      const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
      for (let i = 0; i < 3; i++) await laptop!.send(bytes(`kept ${i}`));
      assert.equal((await phone!.backlog()).envelopes.length, 3);
      disk.fill();
      const big = new Uint8Array(256 * 1024);
      let refused = "";
      for (let i = 0; i < 8 && !refused.startsWith("507"); i++) {
        refused = await outcome(laptop!.request("POST", "/envelopes", { body: big }));
      }
      assert.equal(refused, "507 storage_full");
      assert.equal((await phone!.backlog()).envelopes.length, 3);
      const status = await relay.stop("SIGTERM");
      assert.equal(status.code, 0, relay.lines.join("\n"));
      assert.ok(
        relay.lines.some((line) => line.includes("Final checkpoint")),
        relay.lines.join("\n"),
      );
    }
    disk.unfill();
    await using again = await startRelay(disk.path);
    const [other] = await vaultDevices(again.url, ["other"]);
    assert.equal((await health(again.url)).status, 200);
    assert.equal((await other!.usage()).envelopes, 0);
    assert.equal(again.mode.totals().envelopes, 3, "every stored envelope survived");
  },
});
