import assert from "node:assert/strict";
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

const HOUR = 3600_000;

async function rejectsWith(promise: Promise<unknown>, status: number, code: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    return true;
  });
}

Deno.test("envelopes make a round trip between two devices with per-vault increasing seqs", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  assert.equal((await laptop!.send(bytes("one"))).seq, 1);
  assert.equal((await phone!.send(bytes("two"))).seq, 2);
  assert.equal((await laptop!.send(bytes("three"))).seq, 3);

  const atPhone = await phone!.backlog();
  assert.deepEqual(atPhone.envelopes.map((e) => [e.seq, e.from, text(e.body)]), [
    [1, "laptop", "one"],
    [3, "laptop", "three"],
  ]);
  const atLaptop = await laptop!.backlog();
  assert.deepEqual(atLaptop.envelopes.map((e) => [e.seq, e.from, text(e.body)]), [[
    2,
    "phone",
    "two",
  ]]);
  assert.equal(atLaptop.latestSeq, 3);
});

Deno.test("envelopes carry arbitrary binary bodies intact", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [a, b] = await vaultDevices(relay.url, ["a", "b"]);
  const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
  await a!.send(body);
  assert.deepEqual((await b!.backlog()).envelopes[0]!.body, body);
});

Deno.test("an addressed envelope reaches only its recipient; a broadcast reaches all others", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
  await laptop!.send(bytes("for everyone"));
  await laptop!.send(bytes("for the phone"), { to: "phone" });
  const seen = async (client: typeof phone) =>
    (await client!.backlog()).envelopes.map((e) => text(e.body));
  assert.deepEqual(await seen(phone), ["for everyone", "for the phone"]);
  assert.deepEqual(await seen(tablet), ["for everyone"]);
  assert.deepEqual(await seen(laptop), []);
});

Deno.test("another vault's devices receive nothing", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [a] = await vaultDevices(relay.url, ["a"]);
  const [stranger] = await vaultDevices(relay.url, ["b"]);
  await a!.send(bytes("private"));
  assert.deepEqual((await stranger!.backlog()).envelopes, []);
  assert.equal((await stranger!.usage()).envelopes, 0);
});

Deno.test("backlog starts after the acknowledged cursor, and after= overrides it", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
  await tablet!.backlog(); // the tablet is seen, so acknowledged envelopes wait for it too
  for (const word of ["a", "b", "c", "d"]) await laptop!.send(bytes(word));
  assert.deepEqual(await phone!.ack(2), { acked: 2, deleted: 0 });
  const page = await phone!.backlog();
  assert.equal(page.acked, 2);
  assert.deepEqual(page.envelopes.map((e) => e.seq), [3, 4]);
  assert.deepEqual((await phone!.backlog({ after: 0 })).envelopes.map((e) => e.seq), [1, 2, 3, 4]);
  assert.deepEqual((await phone!.backlog({ after: 0, limit: 3 })).envelopes.map((e) => e.seq), [
    1,
    2,
    3,
  ]);
  assert.equal((await phone!.ack(1)).acked, 2, "a cursor never moves backwards");
  await rejectsWith(phone!.ack(99), 409, "ack_beyond_latest");
});

Deno.test("an envelope is deleted once every recently seen device has acknowledged it", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
  await phone!.backlog();
  await tablet!.backlog();
  await laptop!.send(bytes("shared"));
  await laptop!.send(bytes("direct"), { to: "phone" });
  assert.equal((await laptop!.usage()).envelopes, 2);

  assert.deepEqual(await phone!.ack(2), { acked: 2, deleted: 1 }, "the direct one goes at once");
  assert.equal((await laptop!.usage()).envelopes, 1, "the tablet has not acknowledged yet");
  assert.deepEqual(await tablet!.ack(2), { acked: 2, deleted: 1 });
  const usage = await laptop!.usage();
  assert.equal(usage.envelopes, 0);
  assert.equal(usage.usedBytes, 0);
  assert.equal(usage.devices, 3);
});

Deno.test("a broadcast waits for a recipient: the sender alone never deletes it", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  await laptop!.send(bytes("before anyone else"));
  assert.equal((await laptop!.ack(1)).deleted, 0);
  assert.equal((await phone!.backlog()).envelopes.length, 1);
});

Deno.test("expired envelopes are never served, even before the sweeper runs", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startRelay(dir.path, { ttlHours: 1 }, { clock });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"], { clock });
  await laptop!.send(bytes("old"));
  clock.advance(30 * 60_000);
  await laptop!.send(bytes("newer"));
  clock.advance(31 * 60_000);
  assert.deepEqual((await phone!.backlog()).envelopes.map((e) => text(e.body)), ["newer"]);
  assert.equal((await laptop!.usage()).envelopes, 2, "not swept yet");
  clock.advance(HOUR);
  assert.deepEqual((await phone!.backlog()).envelopes, []);
});

Deno.test("the expiry sweeper deletes expired envelopes, frees their bytes and forgets idle vaults", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startHourlyRelay(dir.path, clock);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"], { clock });
  for (let i = 0; i < 3; i++) await laptop!.send(bytes("x".repeat(100)));
  clock.advance(HOUR / 2);
  await phone!.usage();
  clock.advance(HOUR / 2 + 1);
  const sweep = sweepOf(relay);
  assert.equal(await sweep(), 3);
  const usage = await phone!.usage();
  assert.equal(usage.envelopes, 0);
  assert.equal(usage.usedBytes, 0);
  assert.equal(usage.latestSeq, 3, "seqs do not restart while a device is still recent");
  clock.advance(HOUR + 1);
  await sweep();
  assert.equal((await laptop!.usage()).latestSeq, 0, "a vault idle past the TTL is forgotten");
});

Deno.test("a full vault answers 507 with used and limit, and keeps what it stored", async () => {
  using dir = tempDir();
  // 600 and 400 bytes of bodies, each charged 512 bytes more.
  await using relay = await startRelay(dir.path, { maxBuffer: 2024 });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  await laptop!.send(bytes("a".repeat(600)));
  await laptop!.send(bytes("b".repeat(400)));
  await assert.rejects(laptop!.send(bytes("c")), (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.status, 507);
    assert.equal(error.code, "buffer_full");
    assert.equal(error.body.used, 2024);
    assert.equal(error.body.limit, 2024);
    return true;
  });
  const page = await phone!.backlog();
  assert.deepEqual(page.envelopes.map((e) => e.body.length), [600, 400]);
  await phone!.ack(2);
  assert.equal((await laptop!.send(bytes("c"))).seq, 3, "acknowledging frees the buffer");
});

Deno.test("an envelope over --max-envelope answers 413 and stores nothing", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { maxEnvelope: 1024 });
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  await rejectsWith(laptop!.send(new Uint8Array(1025)), 413, "too_large");
  assert.equal((await laptop!.send(new Uint8Array(1024))).seq, 1);
  assert.equal((await laptop!.usage()).envelopes, 1);
});

Deno.test("a retry with the same idempotency key returns the original seq and stores once", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const first = await laptop!.send(bytes("once"), { idempotencyKey: "op-42" });
  const retry = await laptop!.send(bytes("once"), { idempotencyKey: "op-42" });
  assert.deepEqual([first.seq, first.duplicate, retry.seq, retry.duplicate], [1, false, 1, true]);
  const other = await laptop!.send(bytes("twice"), { idempotencyKey: "op-43" });
  assert.equal(other.seq, 2);
  assert.equal((await phone!.backlog()).envelopes.length, 2);
});

Deno.test("purge deletes everything the relay holds for the vault", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  await laptop!.send(bytes("a"));
  await laptop!.send(bytes("b"));
  assert.equal(await phone!.purge(), 2);
  const usage = await laptop!.usage();
  assert.equal(usage.envelopes, 0);
  assert.equal(usage.usedBytes, 0);
  assert.deepEqual((await phone!.backlog({ after: 0 })).envelopes, []);
  assert.equal((await laptop!.send(bytes("c"))).seq, 3, "seqs continue after a purge");
});

Deno.test("a long poll returns as soon as an envelope arrives", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const polling = phone!.backlog({ wait: 20 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const sent = await laptop!.send(bytes("wake up"));
  assert.equal(sent.recipients, 1, "the waiting poll counts as a live recipient");
  const page = await polling;
  assert.deepEqual(page.envelopes.map((e) => text(e.body)), ["wake up"]);
});

Deno.test("a long poll with nothing to deliver ends empty when its time is up", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [phone] = await vaultDevices(relay.url, ["phone"]);
  const page = await phone!.backlog({ wait: 1 });
  assert.deepEqual(page.envelopes, []);
});

Deno.test("bad query parameters and bodies get 400 with a JSON error", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  for (const query of [{ after: "-1" }, { limit: "0" }, { limit: "abc" }, { wait: "999" }]) {
    const response = await laptop!.request("GET", "/envelopes", { query });
    assert.equal(response.status, 400, JSON.stringify(query));
    assert.equal((await response.json()).error, "bad_parameter");
  }
  const badAck = await laptop!.request("POST", "/ack", { body: bytes("{nope") });
  assert.equal(badAck.status, 400);
  assert.equal((await badAck.json()).error, "bad_json");
  const toSelf = await laptop!.request("POST", "/envelopes", {
    body: bytes("x"),
    query: { to: "laptop" },
  });
  assert.equal(toSelf.status, 400);
  assert.equal((await toSelf.json()).error, "bad_recipient");
});
