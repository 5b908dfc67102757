import assert from "node:assert/strict";
import { PresenceBoard } from "./presence.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { assertRefused } from "../protocol/_assert_refused.ts";
import type { PresenceLimits } from "../limits.ts";

const LIMITS: PresenceLimits = {
  maxBlobBytes: 16,
  maxTtlSeconds: 60,
  maxEntries: 100,
  maxPerVault: 10,
  maxPerAddress: 10,
};

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

Deno.test("presence board lists the blobs published in a vault", () => {
  const { clock, board: presence } = board();
  const now = clock.now();
  assert.deepEqual(
    presence.publish({
      vault: "v1",
      device: "phone",
      blob: bytes("candidates"),
      ttlSeconds: 30,
      address: "a1",
    }),
    {
      device: "phone",
      blob: bytes("candidates"),
      publishedAt: now,
      expiresAt: now + 30_000,
    },
  );
  presence.publish({
    vault: "v1",
    device: "laptop",
    blob: bytes("more"),
    ttlSeconds: 30,
    address: "a1",
  });
  presence.publish({
    vault: "v2",
    device: "tablet",
    blob: bytes("elsewhere"),
    ttlSeconds: 30,
    address: "a1",
  });
  assert.deepEqual(devices(presence, "v1"), ["phone", "laptop"]);
  assert.deepEqual(devices(presence, "v2"), ["tablet"]);
  assert.deepEqual(presence.list("v3"), []);
});

Deno.test("presence board replaces a device's blob with its latest", () => {
  const { clock, board: presence } = board();
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("old"),
    ttlSeconds: 10,
    address: "a1",
  });
  clock.advance(5_000);
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("new"),
    ttlSeconds: 10,
    address: "a1",
  });
  const [entry, ...rest] = presence.list("v1");
  assert.deepEqual(rest, []);
  assert.deepEqual(entry?.blob, bytes("new"));
  assert.equal(entry?.expiresAt, clock.now() + 10_000);
  clock.advance(9_999);
  assert.deepEqual(devices(presence, "v1"), ["phone"], "the new TTL counts, not the old");
});

Deno.test("presence board drops a blob once its TTL ends", () => {
  const { clock, board: presence } = board();
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("short"),
    ttlSeconds: 1,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "laptop",
    blob: bytes("long"),
    ttlSeconds: 60,
    address: "a1",
  });
  clock.advance(999);
  assert.deepEqual(devices(presence, "v1"), ["phone", "laptop"]);
  clock.advance(1);
  assert.deepEqual(devices(presence, "v1"), ["laptop"]);
  clock.advance(59_000);
  assert.deepEqual(presence.list("v1"), []);
});

Deno.test("presence board refuses a blob above the size limit as too_large", () => {
  const { board: presence } = board();
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: new Uint8Array(LIMITS.maxBlobBytes),
    ttlSeconds: 10,
    address: "a1",
  });
  const error = assertStatus(
    assertRefused(
      () =>
        presence.publish({
          vault: "v1",
          device: "laptop",
          blob: new Uint8Array(LIMITS.maxBlobBytes + 1),
          ttlSeconds: 10,
          address: "a1",
        }),
      "too_large",
    ),
    413,
  );
  assert.match(error.message, /^The presence blob is larger than 16 bytes/);
  assert.deepEqual(error.details, { limit: 16 });
  assert.deepEqual(devices(presence, "v1"), ["phone"]);
});

Deno.test("presence board refuses a new blob when it holds its limit, as presence_full", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("a"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v2",
    device: "laptop",
    blob: bytes("b"),
    ttlSeconds: 60,
    address: "a1",
  });
  const error = assertStatus(
    assertRefused(
      () =>
        presence.publish({
          vault: "v1",
          device: "tablet",
          blob: bytes("c"),
          ttlSeconds: 60,
          address: "a1",
        }),
      "presence_full",
    ),
    503,
  );
  assert.equal(error.retryAfter, 60);
  assert.match(error.message, /limit of 2 presence blobs/);
});

Deno.test("presence board does not count a replaced blob twice", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("a"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("b"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("c"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "laptop",
    blob: bytes("d"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "laptop",
    blob: bytes("e"),
    ttlSeconds: 60,
    address: "a1",
  });
  assert.deepEqual(
    devices(presence, "v1"),
    ["phone", "laptop"],
    "a full board still takes updates",
  );
  assertStatus(
    assertRefused(
      () =>
        presence.publish({
          vault: "v1",
          device: "tablet",
          blob: bytes("f"),
          ttlSeconds: 60,
          address: "a1",
        }),
      "presence_full",
    ),
    503,
  );
});

Deno.test("presence board makes room from other vaults' expired blobs before refusing", () => {
  const { clock, board: presence } = board({ maxEntries: 2 });
  assert.ok(
    presence.publish({ vault: "v1", device: "a", blob: bytes("x"), ttlSeconds: 10, address: "a1" }),
  );
  assert.ok(
    presence.publish({ vault: "v2", device: "a", blob: bytes("x"), ttlSeconds: 60, address: "a1" }),
  );
  assert.throws(
    () =>
      presence.publish({
        vault: "v3",
        device: "a",
        blob: bytes("x"),
        ttlSeconds: 60,
        address: "a1",
      }),
    /limit of 2 presence blobs/,
  );
  clock.advance(11_000);
  assert.ok(
    presence.publish({ vault: "v3", device: "a", blob: bytes("x"), ttlSeconds: 60, address: "a1" }),
    "v1's expired blob made room",
  );
});

Deno.test("presence board clear forgets a vault's blobs and frees their room", () => {
  const { board: presence } = board({ maxEntries: 2 });
  presence.publish({
    vault: "v1",
    device: "phone",
    blob: bytes("a"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v1",
    device: "laptop",
    blob: bytes("b"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.clear("v1");
  presence.clear("never-published");
  assert.deepEqual(presence.list("v1"), []);
  presence.publish({
    vault: "v2",
    device: "phone",
    blob: bytes("a"),
    ttlSeconds: 60,
    address: "a1",
  });
  presence.publish({
    vault: "v2",
    device: "laptop",
    blob: bytes("b"),
    ttlSeconds: 60,
    address: "a1",
  });
  assert.deepEqual(devices(presence, "v2"), ["phone", "laptop"]);
});

Deno.test("presence board bounds each vault and each address, so neither fills it for others", () => {
  const { board: presence } = board({ maxPerVault: 2, maxPerAddress: 3 });
  const publish = (vault: string, device: string, address: string) =>
    presence.publish({ vault, device, blob: bytes("x"), ttlSeconds: 60, address });
  publish("v1", "a", "flooder");
  publish("v1", "b", "flooder");
  assertStatus(assertRefused(() => publish("v1", "c", "honest"), "presence_full"), 503);
  publish("v2", "a", "flooder");
  const error = assertStatus(
    assertRefused(() => publish("v3", "a", "flooder"), "presence_full"),
    503,
  );
  assert.match(error.message, /from this address/);
  publish("v3", "a", "honest");
  assert.equal(presence.size, 4);
});

Deno.test("presence board keeps its expiry heap small when one device republishes often", () => {
  const { clock, board: presence } = board();
  for (let i = 0; i < 5000; i++) {
    presence.publish({ vault: "v1", device: "a", blob: bytes("x"), ttlSeconds: 60, address: "a1" });
  }
  assert.equal(presence.size, 1);
  clock.advance(60_000);
  assert.deepEqual(presence.list("v1"), []);
  assert.equal(presence.size, 0);
});

/** Asserts the refusal's HTTP status; returns it for further checks. */
function assertStatus(error: ProtocolError, status: number): ProtocolError {
  assert.equal(error.status, status);
  return error;
}
