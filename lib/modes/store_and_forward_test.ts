import assert from "node:assert/strict";
import { createStoreAndForwardMode } from "./store_and_forward.ts";
import { Database } from "../store/database.ts";
import { Hub } from "../live/hub.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { ModeLimits } from "../limits.ts";
import type { Envelope, SendRequest } from "../protocol/envelope.ts";

const TTL = 60_000;

const LIMITS: ModeLimits = {
  ttlMs: TTL,
  maxBufferBytes: 100,
  envelopeOverheadBytes: 0,
  maxEnvelopesPerVault: 1000,
  maxStoredBytes: 1024 * 1024,
  ackDeleteRows: 1000,
  commitBatchEnvelopes: 512,
  commitBatchBytes: 1024 * 1024,
  sweepBatch: 2,
  sweepIntervalMs: 3_600_000,
  touchIntervalMs: 60_000,
  touchEntries: 100,
  statelessVaults: 100,
  statelessKeys: 100,
  statelessKeyLifetimeMs: 60_000,
};

/** The mode on an in-memory database with a manual clock and a real hub; closed on dispose. */
function storeAndForward(limits: Partial<ModeLimits> = {}) {
  const database = Database.open(":memory:");
  const clock = new ManualClock();
  const hub = new Hub();
  const commits: number[] = [];
  const expired: number[] = [];
  const mode = createStoreAndForwardMode(
    { database, clock, hub, limits: { ...LIMITS, ...limits } },
    { onCommit: (size) => commits.push(size), onExpired: (count) => expired.push(count) },
  );
  return {
    mode,
    database,
    clock,
    hub,
    commits,
    expired,
    async [Symbol.asyncDispose]() {
      await mode.close();
      database.close();
    },
  };
}

function send(from: string, size: number, options: Partial<SendRequest> = {}): SendRequest {
  return { vault: "v1", from, to: null, body: new Uint8Array(size), ...options };
}

/** Asserts that `promise` rejects with a ProtocolError of `code`; returns it. */
async function refusal(promise: Promise<unknown>, code: string): Promise<ProtocolError> {
  const error = await promise.then(() => undefined, (error: unknown) => error);
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
  assert.equal(error.code, code);
  return error;
}

Deno.test("store-and-forward stores a send and says how many devices got it live", async () => {
  await using relay = storeAndForward();
  const received: Envelope[] = [];
  relay.hub.subscribe("v1", {
    device: "laptop",
    deliver: (envelope) => received.push(envelope) > 0,
  });
  const now = relay.clock.now();
  assert.deepEqual(await relay.mode.send(send("phone", 3)), {
    kind: "stored",
    seq: 1,
    expiresAt: now + TTL,
    recipients: 1,
  });
  assert.deepEqual(received, [{
    vault: "v1",
    from: "phone",
    to: null,
    body: new Uint8Array(3),
    seq: 1,
    createdAt: now,
    expiresAt: now + TTL,
  }]);
  assert.deepEqual(await relay.mode.send(send("laptop", 3)), {
    kind: "stored",
    seq: 2,
    expiresAt: now + TTL,
    recipients: 0,
  });
  assert.equal(relay.mode.name, "store-and-forward");
  assert.equal(relay.mode.buffering, "enabled");
});

Deno.test("store-and-forward commits sends of the same turn together", async () => {
  await using relay = storeAndForward();
  const outcomes = await Promise.all([1, 2, 3].map((size) => relay.mode.send(send("phone", size))));
  assert.deepEqual(outcomes.map((outcome) => outcome.seq), [1, 2, 3]);
  assert.deepEqual(relay.commits, [3]);
  assert.deepEqual(relay.mode.totals(), { envelopes: 3, bytes: 6, vaultsWithData: 1 });
});

Deno.test("store-and-forward answers a retried send with its original seq", async () => {
  await using relay = storeAndForward();
  await relay.mode.send(send("phone", 1, { idempotencyKey: "k" }));
  assert.deepEqual(await relay.mode.send(send("phone", 1, { idempotencyKey: "k" })), {
    kind: "duplicate",
    seq: 1,
  });
  assert.equal((await relay.mode.usage("v1")).envelopes, 1);
});

Deno.test("store-and-forward refuses a send beyond the vault's buffer with buffer_full", async () => {
  await using relay = storeAndForward({ maxBufferBytes: 10 });
  const fits = relay.mode.send(send("phone", 8));
  const overflows = relay.mode.send(send("phone", 8));
  const small = relay.mode.send(send("phone", 2));
  assert.equal((await fits).kind, "stored");
  const error = await refusal(overflows, "buffer_full");
  assert.equal(error.status, 507);
  assert.deepEqual(error.details, { used: 8, limit: 10, envelopes: 1, max_envelopes: 1000 });
  assert.equal((await small).kind, "stored", "only the envelope that did not fit is refused");
  assert.equal((await relay.mode.usage("v1")).usedBytes, 10);
});

Deno.test("store-and-forward refuses a send with storage_full when the disk is full", async () => {
  await using relay = storeAndForward({ maxBufferBytes: 10_000_000 });
  await relay.mode.send(send("phone", 1));
  relay.database!.setMaxPageCount(1);
  const error = await refusal(relay.mode.send(send("phone", 1_000_000)), "storage_full");
  assert.equal(error.status, 507);
  assert.equal(error.retryAfter, 60);
  assert.equal((await relay.mode.usage("v1")).latestSeq, 1);
});

Deno.test("store-and-forward hands a device its backlog after its cursor", async () => {
  await using relay = storeAndForward();
  for (const size of [1, 2, 3]) await relay.mode.send(send("phone", size));
  const page = (after?: number) =>
    relay.mode.backlog({ vault: "v1", device: "laptop", after, limit: 10, maxBytes: 1000 });
  assert.deepEqual((await page()).envelopes.map((envelope) => envelope.seq), [1, 2, 3]);
  await relay.mode.touch("v1", "tablet");
  assert.deepEqual(await relay.mode.ack("v1", "laptop", 2), { acked: 2, deleted: 0 });
  const afterAck = await page();
  assert.deepEqual(afterAck.envelopes.map((envelope) => envelope.seq), [3]);
  assert.equal(afterAck.acked, 2);
  assert.equal(afterAck.latestSeq, 3);
  assert.deepEqual((await page(0)).envelopes.map((envelope) => envelope.seq), [1, 2, 3]);
});

Deno.test("store-and-forward deletes envelopes every active device acknowledged", async () => {
  await using relay = storeAndForward();
  await relay.mode.touch("v1", "laptop");
  await relay.mode.touch("v1", "tablet");
  await relay.mode.send(send("phone", 5));
  assert.deepEqual(await relay.mode.ack("v1", "laptop", 1), { acked: 1, deleted: 0 });
  assert.deepEqual(await relay.mode.ack("v1", "tablet", 1), { acked: 1, deleted: 1 });
  assert.deepEqual(await relay.mode.usage("v1"), {
    usedBytes: 0,
    limitBytes: 100,
    envelopes: 0,
    devices: 3,
    latestSeq: 1,
  });
});

Deno.test("store-and-forward refuses an ack beyond the latest seq with ack_beyond_latest", async () => {
  await using relay = storeAndForward();
  await relay.mode.send(send("phone", 1));
  const error = await refusal(relay.mode.ack("v1", "laptop", 2), "ack_beyond_latest");
  assert.equal(error.status, 409);
  assert.deepEqual(error.details, { latest_seq: 1 });
  const page = await relay.mode.backlog({ vault: "v1", device: "laptop", limit: 10, maxBytes: 10 });
  assert.equal(page.acked, 0);
});

Deno.test("store-and-forward lets envelopes expire after the TTL and sweeps them", async () => {
  await using relay = storeAndForward();
  for (const size of [1, 2, 3]) await relay.mode.send(send("phone", size));
  relay.clock.advance(TTL - 1);
  const query = { vault: "v1", device: "laptop", limit: 10, maxBytes: 1000 };
  assert.equal((await relay.mode.backlog(query)).envelopes.length, 3);
  relay.clock.advance(1);
  assert.equal((await relay.mode.backlog(query)).envelopes.length, 0);
  assert.equal(await relay.mode.sweep(), 3, "swept in slices of two");
  assert.deepEqual(relay.expired, [3]);
  assert.equal(await relay.mode.sweep(), 0);
  assert.deepEqual(relay.expired, [3], "an empty sweep is not reported");
  assert.deepEqual(relay.mode.totals(), { envelopes: 0, bytes: 0, vaultsWithData: 0 });
});

Deno.test("store-and-forward touch counts a device as present for the TTL, written once per interval", async () => {
  await using relay = storeAndForward({ touchIntervalMs: 10_000 });
  await relay.mode.touch("v1", "laptop");
  assert.equal((await relay.mode.usage("v1")).devices, 1);
  relay.clock.advance(5_000);
  await relay.mode.touch("v1", "laptop");
  relay.clock.advance(TTL - 5_000);
  assert.equal((await relay.mode.usage("v1")).devices, 1, "seen exactly one TTL ago");
  relay.clock.advance(1);
  assert.equal(
    (await relay.mode.usage("v1")).devices,
    0,
    "the touch within the interval was not written",
  );
  await relay.mode.touch("v1", "laptop");
  assert.equal((await relay.mode.usage("v1")).devices, 1);
});

Deno.test("store-and-forward purge deletes a vault's envelopes and keeps its seq", async () => {
  await using relay = storeAndForward();
  await relay.mode.send(send("phone", 1));
  await relay.mode.send(send("phone", 1));
  assert.equal(await relay.mode.purge("v1"), 2);
  assert.deepEqual(await relay.mode.usage("v1"), {
    usedBytes: 0,
    limitBytes: 100,
    envelopes: 0,
    devices: 0,
    latestSeq: 2,
  });
  assert.equal((await relay.mode.send(send("phone", 1))).seq, 3);
});

Deno.test("store-and-forward close waits for sends already submitted", async () => {
  const relay = storeAndForward();
  const pending = relay.mode.send(send("phone", 1));
  await relay.mode.close();
  assert.equal(relay.commits.length, 1, "committed before close resolved");
  assert.deepEqual(await pending, {
    kind: "stored",
    seq: 1,
    expiresAt: relay.clock.now() + TTL,
    recipients: 0,
  });
  await relay[Symbol.asyncDispose]();
});
