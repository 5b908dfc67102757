import assert from "node:assert/strict";
import { createStatelessMode } from "./stateless.ts";
import { Hub, type Subscriber } from "../live/hub.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { ModeLimits } from "../limits.ts";
import type { Envelope, SendRequest } from "../protocol/envelope.ts";

const LIMITS: ModeLimits = {
  ttlMs: 60_000,
  maxBufferBytes: 100,
  envelopeOverheadBytes: 0,
  maxEnvelopesPerVault: 1000,
  maxStoredBytes: 1024 * 1024,
  ackDeleteRows: 1000,
  commitBatchEnvelopes: 512,
  commitBatchBytes: 1024 * 1024,
  sweepBatch: 500,
  sweepIntervalMs: 60_000,
  touchIntervalMs: 60_000,
  touchEntries: 100,
  statelessVaults: 100,
  statelessKeys: 100,
  statelessKeyLifetimeMs: 10_000,
};

/** The stateless mode with a manual clock and a real hub. */
function stateless(limits: Partial<ModeLimits> = {}) {
  const clock = new ManualClock();
  const hub = new Hub();
  const mode = createStatelessMode({ clock, hub, limits: { ...LIMITS, ...limits } });
  return { mode, clock, hub };
}

/** A live subscriber recording what it receives, with room for everything. */
function listener(device: string) {
  const received: Envelope[] = [];
  const subscriber: Subscriber = { device, deliver: (envelope) => received.push(envelope) > 0 };
  return { subscriber, received };
}

/** A subscriber without room until it is granted some: once (`grantOnce`) or for good. */
function laggingListener(device: string) {
  const received: Envelope[] = [];
  let room = Promise.withResolvers<void>();
  let caughtUp = false;
  const subscriber: Subscriber = {
    device,
    deliver: (envelope) => received.push(envelope) > 0,
    hasRoom: () => caughtUp,
    settled: () => caughtUp ? Promise.resolve() : room.promise,
  };
  return {
    subscriber,
    received,
    /** Room for what waits now; it lags again right after. */
    grantOnce() {
      const granted = room;
      room = Promise.withResolvers<void>();
      granted.resolve();
    },
    /** Room from now on. */
    catchUp() {
      caughtUp = true;
      room.resolve();
    },
  };
}

function send(from: string, options: Partial<SendRequest> = {}): SendRequest {
  return { vault: "v1", from, to: null, body: new Uint8Array([7]), ...options };
}

Deno.test("stateless mode delivers a send to connected devices and keeps nothing", async () => {
  const { mode, clock, hub } = stateless();
  const laptop = listener("laptop");
  hub.subscribe("v1", laptop.subscriber);
  assert.deepEqual(await mode.send(send("phone")), { kind: "delivered", seq: 1, recipients: 1 });
  assert.deepEqual(laptop.received, [{
    vault: "v1",
    from: "phone",
    to: null,
    body: new Uint8Array([7]),
    seq: 1,
    createdAt: clock.now(),
    expiresAt: clock.now(),
  }]);
  assert.deepEqual(await mode.send(send("laptop")), { kind: "delivered", seq: 2, recipients: 0 });
  const page = await mode.backlog({ vault: "v1", device: "tablet", limit: 10, maxBytes: 1000 });
  assert.deepEqual(page, { envelopes: [], acked: 0, latestSeq: 2 });
  assert.deepEqual(mode.totals(), { envelopes: 0, bytes: 0, vaultsWithData: 0 });
  assert.equal(await mode.purge("v1"), 0);
  assert.equal(mode.name, "stateless");
  assert.equal(mode.buffering, "disabled");
  await mode.close();
});

Deno.test("stateless mode numbers sends per vault", async () => {
  const { mode } = stateless();
  assert.equal((await mode.send(send("phone"))).seq, 1);
  assert.equal((await mode.send(send("phone", { vault: "v2" }))).seq, 1);
  assert.equal((await mode.send(send("laptop"))).seq, 2);
  await mode.close();
});

Deno.test("stateless mode forgets the seq of the least recently used vault beyond its bound", async () => {
  const { mode } = stateless({ statelessVaults: 2 });
  await mode.send(send("phone", { vault: "v1" }));
  await mode.send(send("phone", { vault: "v2" }));
  await mode.send(send("phone", { vault: "v1" }));
  await mode.send(send("phone", { vault: "v3" }));
  assert.equal((await mode.send(send("phone", { vault: "v1" }))).seq, 3, "v1 was used recently");
  assert.equal((await mode.send(send("phone", { vault: "v2" }))).seq, 1, "v2 starts again");
  await mode.close();
});

Deno.test("stateless mode answers a retried send with its seq and does not deliver it again", async () => {
  const { mode, clock, hub } = stateless();
  const laptop = listener("laptop");
  hub.subscribe("v1", laptop.subscriber);
  await mode.send(send("phone", { idempotencyKey: "k" }));
  assert.deepEqual(await mode.send(send("phone", { idempotencyKey: "k" })), {
    kind: "duplicate",
    seq: 1,
  });
  assert.equal(laptop.received.length, 1);
  assert.equal(
    (await mode.send(send("tablet", { idempotencyKey: "k" }))).kind,
    "delivered",
    "keys are per device",
  );
  clock.advance(LIMITS.statelessKeyLifetimeMs);
  assert.deepEqual(await mode.send(send("phone", { idempotencyKey: "k" })), {
    kind: "delivered",
    seq: 3,
    recipients: 1,
  });
  await mode.close();
});

Deno.test("stateless mode forgets the oldest idempotency key beyond its bound", async () => {
  const { mode } = stateless({ statelessKeys: 2 });
  for (const key of ["a", "b", "c"]) await mode.send(send("phone", { idempotencyKey: key }));
  assert.equal((await mode.send(send("phone", { idempotencyKey: "c" }))).kind, "duplicate");
  assert.equal((await mode.send(send("phone", { idempotencyKey: "a" }))).kind, "delivered");
  await mode.close();
});

Deno.test("stateless mode answers a sender once its readers have room", async () => {
  const { mode, hub } = stateless();
  const laptop = laggingListener("laptop");
  hub.subscribe("v1", laptop.subscriber);
  let answered = false;
  const sent = mode.send(send("phone")).then((outcome) => {
    answered = true;
    return outcome;
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(answered, false);
  laptop.catchUp();
  assert.deepEqual(await sent, { kind: "delivered", seq: 1, recipients: 1 });
  await mode.close();
});

Deno.test("stateless mode accepts acks up to the latest seq and refuses beyond it", async () => {
  const { mode } = stateless();
  await mode.send(send("phone"));
  await mode.send(send("phone"));
  assert.deepEqual(await mode.ack("v1", "laptop", 2), { acked: 2, deleted: 0 });
  const error = await mode.ack("v1", "laptop", 3).then(() => undefined, (error) => error);
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.code, "ack_beyond_latest");
  assert.deepEqual(error.details, { latest_seq: 2 });
  await mode.close();
});

Deno.test("stateless mode usage counts online devices and holds no bytes", async () => {
  const { mode, hub } = stateless();
  hub.subscribe("v1", listener("laptop").subscriber);
  hub.subscribe("v1", listener("tablet").subscriber);
  await mode.send(send("phone"));
  await mode.touch("v1", "phone");
  assert.deepEqual(await mode.usage("v1"), {
    usedBytes: 0,
    limitBytes: 100,
    envelopes: 0,
    devices: 2,
    latestSeq: 1,
  });
  await mode.close();
});

Deno.test("stateless mode hands a lagging reader nothing more until it has room, then in order", async () => {
  const { mode, hub } = stateless();
  const laptop = laggingListener("laptop");
  hub.subscribe("v1", laptop.subscriber);
  const sends = [mode.send(send("phone")), mode.send(send("phone")), mode.send(send("tablet"))];
  await new Promise((resolve) => setTimeout(resolve, 0));
  const seqs = () => laptop.received.map((envelope) => envelope.seq);
  assert.deepEqual(seqs(), [], "nothing is published while the reader has no room");
  laptop.grantOnce();
  await sends[0];
  assert.deepEqual(seqs(), [1], "one envelope per room");
  laptop.catchUp();
  assert.deepEqual((await Promise.all(sends)).map((outcome) => outcome.seq), [1, 2, 3]);
  assert.deepEqual(seqs(), [1, 2, 3]);
  await mode.close();
});
