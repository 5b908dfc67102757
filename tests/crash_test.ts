import assert from "node:assert/strict";
import { generateVaultKeys, RelayClient } from "../lib/client/mod.ts";
import { spawnRelay } from "../scripts/relay_process.ts";
import { tempDir } from "./_helpers.ts";

const SENDERS = 16;

async function sendUntilKilled(
  client: RelayClient,
  sender: number,
  acknowledged: Map<string, number>,
) {
  for (let i = 0;; i++) {
    const id = `s${sender}-${i}`;
    const body = new TextEncoder().encode(`${id}:${"x".repeat(200 + (i % 7) * 100)}`);
    try {
      const { seq } = await client.send(body, { idempotencyKey: id });
      acknowledged.set(id, seq);
    } catch {
      return; // the relay is gone; this send was never acknowledged
    }
  }
}

async function readEverything(client: RelayClient) {
  const bodies: string[] = [];
  for (let after = 0;;) {
    const page = await client.backlog({ after });
    if (page.envelopes.length === 0) return bodies;
    bodies.push(...page.envelopes.map((e) => new TextDecoder().decode(e.body)));
    after = page.envelopes.at(-1)!.seq;
  }
}

Deno.test("every acknowledged envelope survives kill -9 of the relay, intact and exactly once", async () => {
  using dir = tempDir();
  const db = `${dir.path}/relay.db`;
  const args = ["--listen", "127.0.0.1:0", "--db", db, "--p2p-port", "0"];
  const keys = await generateVaultKeys();
  const acknowledged = new Map<string, number>();

  const first = await spawnRelay(args);
  const senders = await Promise.all(
    Array.from(
      { length: SENDERS },
      (_, i) => RelayClient.create({ url: first.url, keys, device: `sender${i}` }),
    ),
  );
  const sending = senders.map((client, i) => sendUntilKilled(client, i, acknowledged));
  await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 700));
  await first.stop("SIGKILL");
  await Promise.all(sending);
  assert.ok(acknowledged.size > 0, "some sends were acknowledged before the kill");

  await using second = await spawnRelay(args);
  const reader = await RelayClient.create({ url: second.url, keys, device: "reader" });
  const stored = await readEverything(reader);
  const ids = stored.map((body) => body.slice(0, body.indexOf(":")));
  assert.equal(new Set(ids).size, ids.length, "no envelope is stored twice");
  for (const body of stored) {
    const [id, padding] = body.split(":");
    const i = Number(id!.split("-")[1]);
    assert.equal(padding, "x".repeat(200 + (i % 7) * 100), `${id} is intact`);
  }
  const storedIds = new Set(ids);
  const lost = [...acknowledged.keys()].filter((id) => !storedIds.has(id));
  assert.deepEqual(
    lost,
    [],
    `${lost.length} of ${acknowledged.size} acknowledged envelopes were lost`,
  );
  console.log(`${acknowledged.size} acknowledged, ${stored.length} stored after kill -9`);
});
