import assert from "node:assert/strict";
import { type EnvelopeStore, StorageFullError } from "./envelopes.ts";
import { openStore, TTL } from "./_open_store.ts";
import type { SendRequest } from "../protocol/envelope.ts";
import { tempDir } from "../../tests/_helpers.ts";

const T = Date.UTC(2026, 0, 1);

/** A send of `size` bytes (or the bytes of `body`) from `from` in vault `v1` unless told. */
function send(
  from: string,
  body: string | number,
  options: { to?: string; vault?: string; key?: string } = {},
): SendRequest {
  return {
    vault: options.vault ?? "v1",
    from,
    to: options.to ?? null,
    body: typeof body === "number" ? new Uint8Array(body) : new TextEncoder().encode(body),
    idempotencyKey: options.key,
  };
}

/** The seqs of the backlog `device` of `v1` gets after `after`. */
function seqs(
  store: EnvelopeStore,
  device: string,
  options: { after?: number; now?: number; limit?: number; maxBytes?: number; vault?: string } = {},
): number[] {
  return store.backlog({
    vault: options.vault ?? "v1",
    device,
    after: options.after ?? 0,
    limit: options.limit ?? 100,
    maxBytes: options.maxBytes ?? 1_000_000,
    now: options.now ?? T,
  }).map((envelope) => envelope.seq);
}

Deno.test("envelope store appends with increasing seqs and hands the backlog out oldest first", () => {
  using store = openStore();
  const outcomes = store.appendBatch([send("phone", "one"), send("phone", "two")], T);
  assert.deepEqual(outcomes, [
    { kind: "stored", seq: 1, expiresAt: T + TTL },
    { kind: "stored", seq: 2, expiresAt: T + TTL },
  ]);
  assert.deepEqual(store.appendBatch([send("laptop", "three")], T + 5), [
    { kind: "stored", seq: 3, expiresAt: T + 5 + TTL },
  ]);
  const backlog = store.backlog({
    vault: "v1",
    device: "tablet",
    after: 0,
    limit: 10,
    maxBytes: 1000,
    now: T + 10,
  });
  assert.deepEqual(backlog[0], {
    vault: "v1",
    seq: 1,
    from: "phone",
    to: null,
    createdAt: T,
    expiresAt: T + TTL,
    body: new TextEncoder().encode("one"),
  });
  assert.deepEqual(backlog.map((envelope) => envelope.seq), [1, 2, 3]);
  assert.deepEqual(seqs(store, "phone"), [3], "a device does not get its own envelopes back");
  assert.equal(store.latestSeq("v1"), 3);
  assert.equal(store.latestSeq("v2"), 0);
});

Deno.test("envelope store gives an addressed envelope only to its recipient", () => {
  using store = openStore();
  store.appendBatch([send("phone", "all"), send("phone", "tablet only", { to: "tablet" })], T);
  assert.deepEqual(seqs(store, "tablet"), [1, 2]);
  assert.deepEqual(seqs(store, "laptop"), [1]);
});

Deno.test("envelope store keeps vaults apart", () => {
  using store = openStore();
  store.appendBatch([send("phone", "a"), send("phone", "b", { vault: "v2" })], T);
  assert.deepEqual(seqs(store, "laptop"), [1]);
  assert.deepEqual(seqs(store, "laptop", { vault: "v2" }), [1], "each vault counts from 1");
});

Deno.test("envelope store backlog starts after the cursor and stops at its limit or byte budget", () => {
  using store = openStore();
  store.appendBatch([send("phone", 10), send("phone", 10), send("phone", 10)], T);
  assert.deepEqual(seqs(store, "laptop", { after: 1 }), [2, 3]);
  assert.deepEqual(seqs(store, "laptop", { after: 3 }), []);
  assert.deepEqual(seqs(store, "laptop", { limit: 2 }), [1, 2]);
  assert.deepEqual(seqs(store, "laptop", { maxBytes: 20 }), [1, 2]);
  assert.deepEqual(seqs(store, "laptop", { maxBytes: 19 }), [1]);
  assert.deepEqual(seqs(store, "laptop", { maxBytes: 5 }), [1], "at least one envelope");
});

Deno.test("envelope store hands every body of a page back byte for byte, whatever its bytes", () => {
  using store = openStore({ maxBufferBytes: 100_000 });
  const bodies = [
    new Uint8Array([0, 0, 0]),
    new Uint8Array(),
    new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), // not UTF-8
    crypto.getRandomValues(new Uint8Array(4096)),
    new Uint8Array([0x27, 0x5c, 0x22]), // quote, backslash, double quote
  ];
  store.appendBatch(bodies.map((body) => ({ ...send("phone", 0, { to: "laptop" }), body })), T);
  const page = store.backlog({
    vault: "v1",
    device: "laptop",
    after: 0,
    limit: 100,
    maxBytes: 100_000,
    now: T,
  });
  assert.deepEqual(page.map((envelope) => [...envelope.body]), bodies.map((body) => [...body]));
  assert.deepEqual(page.map((envelope) => envelope.to), bodies.map(() => "laptop"));
  assert.deepEqual(
    store.backlog({ vault: "v1", device: "laptop", after: 5, limit: 9, maxBytes: 9, now: T }),
    [],
    "an empty page",
  );
});

Deno.test("envelope store asks before it creates a vault, once per batch, and a refusal stores nothing of that vault", () => {
  using store = openStore();
  const asked: string[] = [];
  const admitNewVault = (item: SendRequest) => {
    asked.push(`${item.vault} ${new TextDecoder().decode(item.body)}`);
    if (item.vault === "v2") throw new Error("no new vaults from here");
  };
  const outcomes = store.appendBatch(
    [send("phone", "a"), send("phone", "b"), send("phone", "c", { vault: "v2" })],
    T,
    admitNewVault,
  );
  assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["stored", "stored", "refused"]);
  assert.equal((outcomes[2] as { error: Error }).error.message, "no new vaults from here");
  assert.deepEqual(asked, ["v1 a", "v2 c"], "one question per new vault");
  assert.deepEqual(seqs(store, "laptop", { vault: "v2" }), []);
  assert.equal(store.latestSeq("v2"), 0, "the refused vault has no row");
  assert.deepEqual(store.appendBatch([send("phone", "d")], T, admitNewVault)[0]?.kind, "stored");
  assert.deepEqual(asked, ["v1 a", "v2 c"], "an existing vault is not asked about");
});

Deno.test("envelope store leaves expired envelopes out of the backlog", () => {
  using store = openStore();
  store.appendBatch([send("phone", "old")], T);
  store.appendBatch([send("phone", "new")], T + 10);
  assert.deepEqual(seqs(store, "laptop", { now: T + TTL - 1 }), [1, 2]);
  assert.deepEqual(seqs(store, "laptop", { now: T + TTL }), [2]);
});

Deno.test("envelope store refuses an envelope beyond the vault's quota and keeps what is stored", () => {
  using store = openStore({ maxBufferBytes: 25 });
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  assert.deepEqual(store.appendBatch([send("phone", 10), send("phone", 5)], T), [
    { kind: "full", used: 20, limit: 25, envelopes: 2, maxEnvelopes: 1000 },
    { kind: "stored", seq: 3, expiresAt: T + TTL },
  ]);
  assert.deepEqual(seqs(store, "laptop"), [1, 2, 3]);
  assert.equal(store.usage("v1", T).usedBytes, 25);
  assert.deepEqual(store.appendBatch([send("phone", 10, { vault: "v2" })], T)[0]?.kind, "stored");
});

Deno.test("envelope store makes room from the vault's expired envelopes before refusing", () => {
  using store = openStore({ maxBufferBytes: 20 });
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  assert.deepEqual(store.appendBatch([send("phone", 10)], T + TTL), [
    { kind: "stored", seq: 3, expiresAt: T + 2 * TTL },
  ]);
  const usage = store.usage("v1", T + TTL);
  assert.equal(usage.usedBytes, 10);
  assert.equal(usage.envelopes, 1);
});

Deno.test("within one batch a full vault makes room from its expired envelopes and counts exactly what it stored", () => {
  using store = openStore({ maxBufferBytes: 20 });
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  const later = T + TTL;
  assert.deepEqual(
    store.appendBatch(
      [send("phone", 10), send("phone", 10), send("phone", 10), send("phone", 5)],
      later,
    )
      .map((outcome) => outcome.kind === "stored" ? outcome.seq : outcome.kind),
    [3, 4, "full", "full"],
  );
  const usage = store.usage("v1", later);
  assert.equal(usage.usedBytes, 20);
  assert.equal(usage.envelopes, 2);
  assert.equal(store.latestSeq("v1"), 4);
  assert.deepEqual(seqs(store, "laptop", { now: later }), [3, 4]);
  store.ack("v1", "laptop", 4, later);
  assert.deepEqual(store.appendBatch([send("phone", 10)], later), [
    { kind: "stored", seq: 5, expiresAt: later + TTL },
  ]);
});

Deno.test("envelope store answers a retry with a known idempotency key with the original seq", () => {
  using store = openStore();
  assert.deepEqual(store.appendBatch([send("phone", "x", { key: "k1" })], T), [
    { kind: "stored", seq: 1, expiresAt: T + TTL },
  ]);
  assert.deepEqual(
    store.appendBatch([send("phone", "x", { key: "k1" }), send("phone", "y", { key: "k2" })], T),
    [{ kind: "duplicate", seq: 1 }, { kind: "stored", seq: 2, expiresAt: T + TTL }],
  );
  assert.deepEqual(
    store.appendBatch([send("laptop", "x", { key: "k1" }), send("laptop", "x", { key: "k1" })], T),
    [{ kind: "stored", seq: 3, expiresAt: T + TTL }, { kind: "duplicate", seq: 3 }],
    "keys are per device; a retry in the same batch is recognised",
  );
  assert.deepEqual(seqs(store, "tablet"), [1, 2, 3]);
  assert.equal(store.appendBatch([send("phone", "x", { key: "k1" })], T + TTL)[0]?.kind, "stored");
});

Deno.test("envelope store moves a device's cursor forward on ack and never back", () => {
  using store = openStore();
  store.appendBatch([send("phone", "a"), send("phone", "b")], T);
  assert.equal(store.cursorOf("v1", "laptop"), 0);
  assert.deepEqual(store.ack("v1", "laptop", 2, T), { kind: "acked", acked: 2, deleted: 2 });
  assert.deepEqual(store.ack("v1", "laptop", 1, T), { kind: "acked", acked: 2, deleted: 0 });
  assert.equal(store.cursorOf("v1", "laptop"), 2);
});

Deno.test("envelope store deletes a broadcast once every recently seen other device acked it", () => {
  using store = openStore();
  store.touchDevice("v1", "laptop", T);
  store.touchDevice("v1", "tablet", T);
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  assert.deepEqual(store.ack("v1", "phone", 2, T), { kind: "acked", acked: 2, deleted: 0 });
  assert.deepEqual(store.ack("v1", "laptop", 2, T), { kind: "acked", acked: 2, deleted: 0 });
  assert.deepEqual(store.ack("v1", "tablet", 1, T), { kind: "acked", acked: 1, deleted: 1 });
  assert.deepEqual(seqs(store, "laptop"), [2]);
  assert.equal(store.usage("v1", T).usedBytes, 10);
  assert.deepEqual(store.ack("v1", "tablet", 2, T), { kind: "acked", acked: 2, deleted: 1 });
  assert.equal(store.usage("v1", T).envelopes, 0);
});

Deno.test("envelope store keeps a broadcast no other device has been seen to acknowledge", () => {
  using store = openStore();
  store.appendBatch([send("phone", "a")], T);
  assert.deepEqual(store.ack("v1", "phone", 1, T), { kind: "acked", acked: 1, deleted: 0 });
  assert.deepEqual(seqs(store, "laptop"), [1], "a device that was never seen still gets it");
});

Deno.test("envelope store does not wait for a device unseen for longer than the TTL", () => {
  using store = openStore();
  store.touchDevice("v1", "tablet", T);
  store.appendBatch([send("phone", "a")], T + TTL / 2);
  assert.deepEqual(store.ack("v1", "laptop", 1, T + TTL / 2), {
    kind: "acked",
    acked: 1,
    deleted: 0,
  });
  assert.deepEqual(store.ack("v1", "laptop", 1, T + TTL + 1), {
    kind: "acked",
    acked: 1,
    deleted: 1,
  });
});

Deno.test("envelope store deletes an addressed envelope once its recipient acked it", () => {
  using store = openStore();
  store.touchDevice("v1", "laptop", T);
  store.appendBatch([send("phone", "a", { to: "tablet" })], T);
  assert.deepEqual(store.ack("v1", "laptop", 1, T), { kind: "acked", acked: 1, deleted: 0 });
  assert.deepEqual(store.ack("v1", "tablet", 1, T), { kind: "acked", acked: 1, deleted: 1 });
});

Deno.test("envelope store refuses an ack beyond the latest seq and moves nothing", () => {
  using store = openStore();
  store.appendBatch([send("phone", "a")], T);
  assert.deepEqual(store.ack("v1", "laptop", 2, T), { kind: "beyond_latest", latest: 1 });
  assert.equal(store.cursorOf("v1", "laptop"), 0);
  assert.deepEqual(store.ack("v2", "laptop", 1, T), { kind: "beyond_latest", latest: 0 });
  assert.deepEqual(store.ack("v2", "laptop", 0, T), { kind: "acked", acked: 0, deleted: 0 });
});

Deno.test("envelope store purge forgets a vault's envelopes, cursors and keys but not its seq", () => {
  using store = openStore();
  store.appendBatch([send("phone", 10, { key: "k" }), send("phone", 10)], T);
  store.appendBatch([send("phone", 10, { vault: "v2" })], T);
  store.touchDevice("v1", "tablet", T);
  store.ack("v1", "laptop", 1, T);
  assert.equal(store.purge("v1", T), 2);
  assert.deepEqual(seqs(store, "laptop"), []);
  assert.equal(store.cursorOf("v1", "laptop"), 0);
  assert.deepEqual(store.usage("v1", T), {
    usedBytes: 0,
    limitBytes: 1000,
    envelopes: 0,
    devices: 0,
    latestSeq: 2,
  });
  assert.deepEqual(store.appendBatch([send("phone", 10, { key: "k" })], T), [
    { kind: "stored", seq: 3, expiresAt: T + TTL },
  ]);
  assert.deepEqual(seqs(store, "laptop", { vault: "v2" }), [1], "other vaults keep theirs");
  assert.equal(store.purge("never-used", T), 0);
});

Deno.test("envelope store sweep keeps a purged vault's seq until it stayed idle for the TTL", () => {
  using store = openStore();
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  store.ack("v1", "laptop", 2, T);
  store.purge("v1", T + 10);
  store.sweepExpired(T + 10, 10);
  assert.equal(store.latestSeq("v1"), 2, "no envelope and no device left, but purged just now");
  store.sweepExpired(T + 10 + TTL, 10);
  assert.equal(store.latestSeq("v1"), 2, "purged exactly one TTL ago still counts");
  store.sweepExpired(T + 11 + TTL, 10);
  assert.equal(store.latestSeq("v1"), 0, "idle for longer than the TTL since the purge");
});

Deno.test("envelope store usage reports bytes against the limit, envelopes, recent devices and seq", () => {
  using store = openStore();
  assert.deepEqual(store.usage("v1", T), {
    usedBytes: 0,
    limitBytes: 1000,
    envelopes: 0,
    devices: 0,
    latestSeq: 0,
  });
  store.appendBatch([send("phone", 100), send("phone", 50)], T);
  store.touchDevice("v1", "laptop", T + 10);
  assert.deepEqual(store.usage("v1", T + 10), {
    usedBytes: 150,
    limitBytes: 1000,
    envelopes: 2,
    devices: 2,
    latestSeq: 2,
  });
  assert.equal(store.usage("v1", T + TTL + 5).devices, 1, "phone was last seen too long ago");
});

Deno.test("envelope store sweeps expired envelopes in slices and frees their bytes", () => {
  using store = openStore();
  store.appendBatch([send("phone", 10), send("phone", 10), send("phone", 10, { vault: "v2" })], T);
  store.appendBatch([send("phone", 10), send("phone", 10, { vault: "v2" })], T + 1);
  assert.equal(store.sweepExpired(T + TTL - 1, 2), 0);
  assert.deepEqual(store.totals(), { envelopes: 5, bytes: 50, vaultsWithData: 2 });
  assert.equal(store.sweepExpired(T + TTL, 2), 2);
  assert.equal(store.sweepExpired(T + TTL, 2), 1);
  assert.equal(store.sweepExpired(T + TTL, 2), 0);
  assert.deepEqual(store.totals(), { envelopes: 2, bytes: 20, vaultsWithData: 2 });
  assert.equal(store.sweepExpired(T + TTL + 1, 10), 2);
  assert.deepEqual(store.totals(), { envelopes: 0, bytes: 0, vaultsWithData: 0 });
  assert.equal(store.usage("v1", T + TTL + 1).usedBytes, 0);
  assert.equal(store.latestSeq("v1"), 3, "seqs continue after a sweep");
});

Deno.test("envelope store sweep forgets a device gone for longer than the TTL, with its cursor", () => {
  using store = openStore();
  store.appendBatch([send("phone", "a")], T);
  store.ack("v1", "laptop", 1, T);
  store.sweepExpired(T + TTL, 10);
  assert.equal(store.cursorOf("v1", "laptop"), 1, "seen exactly one TTL ago still counts");
  store.sweepExpired(T + TTL + 1, 10);
  assert.equal(store.cursorOf("v1", "laptop"), 0);
});

Deno.test("envelope store refuses a batch as a whole when the disk is full", () => {
  using store = openStore({ maxBufferBytes: 10_000_000 });
  store.appendBatch([send("phone", "first")], T);
  const pages = store.database.setMaxPageCount(1);
  assert.ok(pages >= 1);
  assert.throws(
    () => store.appendBatch([send("phone", "fits"), send("phone", 1_000_000)], T),
    StorageFullError,
  );
  assert.deepEqual(seqs(store, "laptop"), [1], "nothing of the failed batch was stored");
  assert.equal(store.latestSeq("v1"), 1);
  assert.deepEqual(store.totals(), { envelopes: 1, bytes: 5, vaultsWithData: 1 });
});

Deno.test("envelope store charges each envelope an overhead, so empty envelopes fill a quota too", () => {
  using store = openStore({ maxBufferBytes: 1000, envelopeOverheadBytes: 100 });
  const outcomes = store.appendBatch(Array.from({ length: 11 }, () => send("a", 0)), T);
  assert.equal(outcomes.filter((outcome) => outcome.kind === "stored").length, 10);
  assert.equal(outcomes[10]!.kind, "full");
  assert.equal(store.usage("v1", T).usedBytes, 1000);
});

Deno.test("envelope store refuses an envelope beyond the vault's envelope count", () => {
  using store = openStore({ maxEnvelopesPerVault: 3 });
  const outcomes = store.appendBatch(Array.from({ length: 4 }, () => send("a", 1)), T);
  assert.deepEqual(outcomes.map((outcome) => outcome.kind), ["stored", "stored", "stored", "full"]);
  assert.deepEqual(outcomes[3], {
    kind: "full",
    used: 3,
    limit: 1000,
    envelopes: 3,
    maxEnvelopes: 3,
  });
});

Deno.test("envelope store refuses writes beyond the database cap across vaults, and frees on ack", () => {
  using store = openStore({ maxStoredBytes: 250, envelopeOverheadBytes: 50 });
  store.appendBatch([send("a", 50, { vault: "v1" }), send("a", 50, { vault: "v2" })], T);
  assert.deepEqual(
    store.appendBatch([send("a", 50, { vault: "v3" }), send("a", 0, { vault: "v3" })], T),
    [{ kind: "storage_full" }, { kind: "stored", seq: 1, expiresAt: T + TTL }],
    "the envelope beyond the cap is refused, one that fits is kept",
  );
  assert.equal(store.usage("v3", T).envelopes, 1);
  store.touchDevice("v1", "b", T);
  assert.equal(store.ack("v1", "b", 1, T).kind, "acked");
  assert.equal(store.appendBatch([send("a", 40, { vault: "v3" })], T)[0]!.kind, "stored");
});

Deno.test("envelope store runs appends and acknowledgements in one batch, in order", () => {
  using store = openStore({ maxBufferBytes: 25 });
  store.touchDevice("v1", "laptop", T);
  store.appendBatch([send("phone", 10), send("phone", 10)], T);
  const outcomes = store.writeBatch([
    { kind: "append", request: send("phone", 5) },
    { kind: "append", request: send("phone", 5) },
    { kind: "ack", vault: "v1", device: "laptop", seq: 3 },
    { kind: "append", request: send("phone", 10) },
    { kind: "ack", vault: "v1", device: "laptop", seq: 9 },
  ], T);
  assert.deepEqual(outcomes, [
    { kind: "stored", seq: 3, expiresAt: T + TTL },
    { kind: "full", used: 25, limit: 25, envelopes: 3, maxEnvelopes: 1000 },
    { kind: "acked", acked: 3, deleted: 3 },
    { kind: "stored", seq: 4, expiresAt: T + TTL },
    { kind: "beyond_latest", latest: 4 },
  ], "the ack sees the seq the batch just assigned and frees room for the next append");
  assert.deepEqual(seqs(store, "laptop", { after: 3 }), [4]);
  assert.deepEqual(store.usage("v1", T), {
    usedBytes: 10,
    limitBytes: 25,
    envelopes: 1,
    devices: 2,
    latestSeq: 4,
  });
});

Deno.test("envelope store forgets a vault with no envelopes and no devices left after the TTL", () => {
  using store = openStore();
  store.appendBatch([send("a", 5)], T);
  assert.equal(store.sweepExpired(T + TTL + 1, 100), 1);
  assert.equal(store.latestSeq("v1"), 0, "the vault's row is gone with its devices");
});

Deno.test("an ack deletes broadcasts only once every other recent device has them", () => {
  using store = openStore();
  store.appendBatch([send("a", 1), send("a", 1), send("b", 1)], T);
  for (const device of ["b", "c"]) store.touchDevice("v1", device, T);
  assert.equal(store.ack("v1", "b", 3, T).kind, "acked");
  assert.equal(store.usage("v1", T).envelopes, 3, "c has not acknowledged yet");
  const acked = store.ack("v1", "c", 2, T);
  assert.deepEqual(acked, { kind: "acked", acked: 2, deleted: 2 }, "a's two; b's needs a");
  assert.deepEqual(store.ack("v1", "a", 3, T), { kind: "acked", acked: 3, deleted: 0 });
  assert.deepEqual(store.ack("v1", "c", 3, T), { kind: "acked", acked: 3, deleted: 1 });
});

Deno.test("one ack deletes at most its row budget; the next ack deletes the rest", () => {
  using store = openStore({ ackDeleteRows: 3 });
  store.appendBatch(Array.from({ length: 5 }, () => send("a", 1)), T);
  store.touchDevice("v1", "b", T);
  assert.deepEqual(store.ack("v1", "b", 5, T), { kind: "acked", acked: 5, deleted: 3 });
  assert.deepEqual(store.ack("v1", "b", 5, T), { kind: "acked", acked: 5, deleted: 2 });
  assert.equal(store.usage("v1", T).envelopes, 0);
});

Deno.test("envelope store zeroes an acknowledged small body in its file, and gives a large one's pages to the next envelope", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  using store = openStore({ maxBufferBytes: 1 << 20, maxStoredBytes: 1 << 22 }, path);
  const repeated = (marker: string, bytes: number) =>
    marker.repeat(Math.ceil(bytes / marker.length)).slice(0, bytes);
  /** The database file, once the write-ahead log is checkpointed into it, as text. */
  const file = () => {
    store.database.handle.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return new TextDecoder("latin1").decode(Deno.readFileSync(path));
  };

  store.appendBatch([send("phone", repeated("small-ciphertext|", 600))], T);
  assert.ok(file().includes("small-ciphertext|"), "stored, so in the file");
  assert.deepEqual(store.ack("v1", "laptop", 1, T), { kind: "acked", acked: 1, deleted: 1 });
  assert.ok(!file().includes("small-ciphertext|"), "zeroed by its delete");

  store.appendBatch([send("phone", repeated("large-ciphertext|", 64 * 1024))], T);
  assert.deepEqual(store.ack("v1", "laptop", 2, T), { kind: "acked", acked: 2, deleted: 1 });
  const size = file().length;
  store.appendBatch([send("phone", repeated("next-envelope|", 64 * 1024))], T);
  assert.ok(file().includes("next-envelope|"));
  assert.equal(file().length, size, "the next envelope went into the freed pages");
});
