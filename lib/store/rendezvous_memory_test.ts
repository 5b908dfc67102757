import assert from "node:assert/strict";
import { MemoryRendezvousStore } from "./rendezvous_memory.ts";

/** A store on a clock the test moves, with small caps. */
function store(caps: Partial<ConstructorParameters<typeof MemoryRendezvousStore>[0]> = {}) {
  const clock = { now: 1_000_000 };
  const registrations = new MemoryRendezvousStore({
    maxTotal: 100,
    maxPerPeer: 100,
    maxPerAddress: 100,
    maxRecordBytes: 1_000_000,
    now: () => clock.now,
    ...caps,
  });
  return { registrations, clock };
}

function input(peerId: string, namespace = "vaults", address = "192.0.2.1", recordBytes = 10) {
  return { namespace, peerId, address, record: new Uint8Array(recordBytes), ttlSeconds: 60 };
}

Deno.test("memory rendezvous: a refresh takes no new slot and gets a new id, so a cookie sees it again", () => {
  const { registrations } = store({ maxPerPeer: 1 });
  const first = registrations.register(input("peer-a"));
  const again = registrations.register(input("peer-a"));
  assert.deepEqual(first, { stored: true, id: 1 });
  assert.deepEqual(again, { stored: true, id: 2 });
  assert.equal(registrations.count(), 1);
  assert.deepEqual(
    registrations.discover({ namespace: "vaults", afterId: 1, limit: 10 })
      .registrations.map((r) => r.id),
    [2],
  );
});

Deno.test("memory rendezvous: caps per peer, per address and in total refuse before storing", () => {
  const { registrations } = store({ maxPerPeer: 2, maxPerAddress: 3, maxTotal: 4 });
  registrations.register(input("peer-a", "one"));
  registrations.register(input("peer-a", "two"));
  assert.deepEqual(registrations.register(input("peer-a", "three")), {
    stored: false,
    reason: "peer-limit",
  });
  assert.equal(registrations.refusal(input("peer-a", "three")), "peer-limit");
  assert.equal(registrations.refusal(input("peer-a", "one")), undefined, "a refresh is let in");
  registrations.register(input("peer-b", "one"));
  assert.equal(registrations.refusal(input("peer-c", "one")), "address-limit");
  registrations.register(input("peer-c", "one", "192.0.2.2"));
  assert.equal(registrations.refusal(input("peer-d", "one", "192.0.2.3")), "total-limit");
  assert.equal(registrations.count(), 4);
});

Deno.test("memory rendezvous: the bytes of records held are capped, and a refresh counts only its growth", () => {
  const { registrations } = store({ maxRecordBytes: 250 });
  assert.equal(registrations.register(input("peer-a", "vaults", "192.0.2.1", 100)).stored, true);
  assert.equal(registrations.register(input("peer-b", "vaults", "192.0.2.1", 100)).stored, true);
  assert.deepEqual(registrations.register(input("peer-c", "vaults", "192.0.2.1", 100)), {
    stored: false,
    reason: "total-limit",
  });
  assert.equal(registrations.register(input("peer-a", "vaults", "192.0.2.1", 150)).stored, true);
  assert.equal(registrations.recordBytes, 250);
  assert.equal(registrations.unregister("vaults", "peer-b"), true);
  assert.equal(registrations.recordBytes, 150);
  assert.equal(registrations.register(input("peer-c", "vaults", "192.0.2.1", 100)).stored, true);
});

Deno.test("memory rendezvous: expired registrations are not discovered, counted or charged", () => {
  const { registrations, clock } = store({ maxPerPeer: 1 });
  registrations.register({ ...input("peer-a"), ttlSeconds: 10 });
  clock.now += 9_500;
  const [live] = registrations.discover({ namespace: undefined, afterId: 0, limit: 10 })
    .registrations;
  assert.equal(live?.ttlSeconds, 1, "seconds left, rounded up");
  assert.equal(registrations.purgeExpired(), 0, "not yet expired");
  assert.equal(registrations.count(), 1);
  clock.now += 500;
  assert.deepEqual(registrations.discover({ namespace: undefined, afterId: 0, limit: 10 }), {
    registrations: [],
    lastId: 0,
  });
  assert.equal(registrations.purgeExpired(), 1);
  assert.equal(registrations.purgeExpired(), 0, "nothing left to expire");
  assert.equal(registrations.count(), 0);
  assert.equal(registrations.recordBytes, 0);
  assert.equal(registrations.refusal(input("peer-a", "other")), undefined, "its slot is free");
});

Deno.test("memory rendezvous: discovery pages by id within a namespace or across all", () => {
  const { registrations } = store();
  for (const [peer, namespace] of [["a", "x"], ["b", "y"], ["c", "x"], ["d", "x"]]) {
    registrations.register(input(peer!, namespace));
  }
  const first = registrations.discover({ namespace: "x", afterId: 0, limit: 2 });
  assert.deepEqual(first.registrations.map((r) => r.peerId), ["a", "c"]);
  const next = registrations.discover({ namespace: "x", afterId: first.lastId, limit: 2 });
  assert.deepEqual(next.registrations.map((r) => r.peerId), ["d"]);
  const end = registrations.discover({ namespace: "x", afterId: next.lastId, limit: 2 });
  assert.deepEqual(end, { registrations: [], lastId: next.lastId });
  assert.equal(
    registrations.discover({ namespace: undefined, afterId: 0, limit: 10 }).registrations.length,
    4,
  );
  assert.equal(registrations.highestId(), 4);
  assert.equal(registrations.unregister("x", "a"), true);
  assert.equal(registrations.unregister("x", "a"), false);
  assert.equal(registrations.highestId(), 4, "ids are never reused");
});

Deno.test("memory rendezvous: each registration expires at its own TTL, the shortest first", () => {
  const { registrations, clock } = store();
  registrations.register({ ...input("peer-long"), ttlSeconds: 60 });
  registrations.register({ ...input("peer-short"), ttlSeconds: 10 });
  clock.now += 10_000;
  assert.equal(registrations.purgeExpired(), 1);
  assert.deepEqual(
    registrations.discover({ namespace: undefined, afterId: 0, limit: 10 }).registrations
      .map((r) => r.peerId),
    ["peer-long"],
  );
  clock.now += 49_999;
  assert.equal(registrations.purgeExpired(), 0);
  clock.now += 1;
  assert.equal(registrations.purgeExpired(), 1);
  assert.equal(registrations.count(), 0);
});
