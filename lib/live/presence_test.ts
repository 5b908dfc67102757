import assert from "node:assert/strict";
import { PresenceBoard } from "./presence.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { PresenceLimits } from "../limits.ts";

const LIMITS: PresenceLimits = { maxBlobBytes: 16, maxTtlSeconds: 60, maxEntries: 100 };

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function board(limits: Partial<PresenceLimits> = {}) {
  const clock = new ManualClock();
  return { clock, board: new PresenceBoard(clock, { ...LIMITS, ...limits }) };
}

/** The devices listed for `vault`, in publication order. */
function devices(presence: PresenceBoard, vault: string): string[] {
  return presence.list(vault).map((entry) => entry.device);
}

function assertRefused(work: () => unknown, code: string, status: number): ProtocolError {
  let caught: unknown;
  try {
    work();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${caught}`);
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  return caught;
}

Deno.test("presence board lists the blobs published in a vault", () => {
  const { clock, board: presence } = board();
  const now = clock.now();
  assert.deepEqual(presence.publish("v1", "phone", bytes("candidates"), 30), {
    device: "phone",
    blob: bytes("candidates"),
    publishedAt: now,
    expiresAt: now + 30_000,
  });
  presence.publish("v1", "laptop", bytes("more"), 30);
  presence.publish("v2", "tablet", bytes("elsewhere"), 30);
  assert.deepEqual(devices(presence, "v1"), ["phone", "laptop"]);
  assert.deepEqual(devices(presence, "v2"), ["tablet"]);
  assert.deepEqual(presence.list("v3"), []);
});

Deno.test("presence board replaces a device's blob with its latest", () => {
  const { clock, board: presence } = board();
  presence.publish("v1", "phone", bytes("old"), 10);
  clock.advance(5_000);
  presence.publish("v1", "phone", bytes("new"), 10);
  const [entry, ...rest] = presence.list("v1");
  assert.deepEqual(rest, []);
  assert.deepEqual(entry?.blob, bytes("new"));
  assert.equal(entry?.expiresAt, clock.now() + 10_000);
  clock.advance(9_999);
  assert.deepEqual(devices(presence, "v1"), ["phone"], "the new TTL counts, not the old");
});

Deno.test("presence board drops a blob once its TTL ends", () => {
  const { clock, board: presence } = board();
  presence.publish("v1", "phone", bytes("short"), 1);
  presence.publish("v1", "laptop", bytes("long"), 60);
  clock.advance(999);
  assert.deepEqual(devices(presence, "v1"), ["phone", "laptop"]);
  clock.advance(1);
  assert.deepEqual(devices(presence, "v1"), ["laptop"]);
  clock.advance(59_000);
  assert.deepEqual(presence.list("v1"), []);
});

Deno.test("presence board refuses a blob above the size limit as too_large", () => {
  const { board: presence } = board();
  presence.publish("v1", "phone", new Uint8Array(LIMITS.maxBlobBytes), 10);
  const error = assertRefused(
    () => presence.publish("v1", "laptop", new Uint8Array(LIMITS.maxBlobBytes + 1), 10),
    "too_large",
    413,
  );
  assert.match(error.message, /^The presence blob is larger than 16 bytes/);
  assert.deepEqual(error.details, { limit: 16 });
  assert.deepEqual(devices(presence, "v1"), ["phone"]);
});

Deno.test("presence board refuses a new blob when it holds its limit, as presence_full", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish("v1", "phone", bytes("a"), 60);
  presence.publish("v2", "laptop", bytes("b"), 60);
  const error = assertRefused(
    () => presence.publish("v1", "tablet", bytes("c"), 60),
    "presence_full",
    503,
  );
  assert.equal(error.retryAfter, 60);
  assert.match(error.message, /too many presence blobs/);
});

Deno.test("presence board does not count a replaced blob twice", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish("v1", "phone", bytes("a"), 60);
  presence.publish("v1", "phone", bytes("b"), 60);
  presence.publish("v1", "phone", bytes("c"), 60);
  presence.publish("v1", "laptop", bytes("d"), 60);
  presence.publish("v1", "laptop", bytes("e"), 60);
  assert.deepEqual(
    devices(presence, "v1"),
    ["phone", "laptop"],
    "a full board still takes updates",
  );
  assertRefused(() => presence.publish("v1", "tablet", bytes("f"), 60), "presence_full", 503);
});

Deno.test("presence board makes room from other vaults' expired blobs before refusing", () => {
  const { clock, board: presence } = board({ maxEntries: 2 });
  assert.ok(presence.publish("v1", "a", bytes("x"), 10));
  assert.ok(presence.publish("v2", "a", bytes("x"), 60));
  assert.throws(() => presence.publish("v3", "a", bytes("x"), 60), /too many presence blobs/);
  clock.advance(11_000);
  assert.ok(presence.publish("v3", "a", bytes("x"), 60), "v1's expired blob made room");
});

Deno.test("presence board clear forgets a vault's blobs and frees their room", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish("v1", "phone", bytes("a"), 60);
  presence.publish("v1", "laptop", bytes("b"), 60);
  presence.clear("v1");
  presence.clear("never-published");
  assert.deepEqual(presence.list("v1"), []);
  presence.publish("v2", "phone", bytes("a"), 60);
  presence.publish("v2", "laptop", bytes("b"), 60);
  assert.deepEqual(devices(presence, "v2"), ["phone", "laptop"]);
});
