/**
 * Hostile input, bounded and reproducible: a seeded PRNG (mulberry32) builds random and mutated
 * requests (`scripts/fuzz_corpus.ts`) against a live relay. Rerun a failure with
 * FUZZ_SEED=<printed seed>.
 */
import assert from "node:assert/strict";
import { generateVaultKeys, vaultIdOfKeys } from "../lib/client/mod.ts";
import { bytes, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";
import type { RelayClient } from "../lib/client/mod.ts";
import {
  FUZZ_VOCABULARY,
  type FuzzRequest,
  fuzzRequest,
  garbageChunks,
  mulberry32,
  type Random,
} from "../scripts/fuzz_corpus.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed_2026);
const REQUESTS = 400;

async function send(request: FuzzRequest): Promise<number | undefined> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  } catch (error) {
    // Some junk is refused by fetch itself before it reaches the relay.
    if (error instanceof TypeError) return undefined;
    throw error;
  }
  await response.body?.cancel();
  return response.status;
}

async function roundTrip(sender: RelayClient, receiver: RelayClient, label: string): Promise<void> {
  const { seq } = await sender.send(bytes(label));
  const page = await receiver.backlog({ after: seq - 1 });
  assert.equal(text(page.envelopes[0]!.body), label);
  await receiver.ack(seq);
}

/** Raw bytes straight onto a TCP connection: Deno's HTTP layer must shrug them off. */
async function rawGarbage(random: Random, port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks = garbageChunks(random, FUZZ_VOCABULARY);
  try {
    for (const chunk of chunks) await conn.write(chunk);
    await conn.read(new Uint8Array(1024));
  } catch {
    // The relay may hang up on garbage; that is the point.
  } finally {
    conn.close();
  }
}

Deno.test(`the relay never answers 5xx to random and mutated requests (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
  const random = mulberry32(SEED);
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    rateLimitIp: null,
    rateLimitVault: null,
    maxEnvelope: 4096,
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const statuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const request = await fuzzRequest(random, {
      target: { base: relay.url, keys, vault },
      vocabulary: FUZZ_VOCABULARY,
    });
    const status = await send(request);
    if (status !== undefined) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.ok(
      status === undefined || status < 500,
      `request ${i} (${request.method} ${request.url.pathname}) got ${status}; seed ${SEED}`,
    );
    if (i % 50 === 0) await roundTrip(laptop!, phone!, `during ${i}`);
    if (i % 40 === 0) await rawGarbage(random, relay.address.port);
  }
  console.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  assert.ok(statuses.size >= 5, "the run exercised several kinds of answers");
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await roundTrip(phone!, laptop!, "after the run");
});
