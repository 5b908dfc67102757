import assert from "node:assert/strict";
import { NonceCache } from "./nonce_cache.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";

const CAPACITY = { perVault: 20_000, perAddress: 50_000, total: 500_000 };

function assertFull(work: () => unknown, pattern: RegExp) {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "replay_cache_full");
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("nonce cache refuses a nonce seen before in the same vault, not in another", () => {
  const cache = new NonceCache(new ManualClock(), CAPACITY);
  assert.equal(cache.remember({ vaultId: "vault-a", nonce: "n1", address: "a1" }), true);
  assert.equal(cache.remember({ vaultId: "vault-a", nonce: "n1", address: "a1" }), false);
  assert.equal(cache.remember({ vaultId: "vault-b", nonce: "n1", address: "a1" }), true);
});

Deno.test("nonce cache forgets a nonce once no signature carrying it can be accepted", () => {
  const clock = new ManualClock();
  const cache = new NonceCache(clock, CAPACITY);
  cache.remember({ vaultId: "vault-a", nonce: "n1", address: "a1" });
  clock.advance(120_000);
  assert.equal(
    cache.remember({ vaultId: "vault-a", nonce: "n1", address: "a1" }),
    false,
    "still inside twice the window",
  );
  clock.advance(2_000);
  assert.equal(cache.remember({ vaultId: "vault-a", nonce: "n1", address: "a1" }), true);
  assert.equal(cache.size, 1);
});

Deno.test("a vault that fills its share of the nonce cache does not block other vaults", () => {
  const clock = new ManualClock();
  const cache = new NonceCache(clock, { perVault: 3, perAddress: 100, total: 10 });
  for (const nonce of ["a", "b", "c"]) {
    cache.remember({ vaultId: "busy", nonce: nonce, address: "a1" });
  }
  assertFull(
    () => cache.remember({ vaultId: "busy", nonce: "d", address: "a1" }),
    /for this vault/,
  );
  assert.equal(cache.remember({ vaultId: "quiet", nonce: "a", address: "a1" }), true);
  clock.advance(122_000);
  assert.equal(
    cache.remember({ vaultId: "busy", nonce: "d", address: "a1" }),
    true,
    "room again once the old nonces expire",
  );
});

Deno.test("a full nonce cache turns requests away instead of forgetting live nonces", () => {
  const cache = new NonceCache(new ManualClock(), { perVault: 10, perAddress: 100, total: 4 });
  for (const vault of ["v1", "v2", "v3", "v4"]) {
    cache.remember({ vaultId: vault, nonce: "x", address: "a1" });
  }
  assertFull(
    () => cache.remember({ vaultId: "v5", nonce: "x", address: "a1" }),
    /too many signed requests/,
  );
  assert.equal(
    cache.remember({ vaultId: "v1", nonce: "x", address: "a1" }),
    false,
    "a remembered nonce is still refused",
  );
});

Deno.test("nonce cache refuses one address beyond its share while other addresses go on", () => {
  const cache = new NonceCache(new ManualClock(), { perVault: 10, perAddress: 3, total: 100 });
  for (let i = 0; i < 3; i++) {
    assert.ok(cache.remember({ vaultId: `v${i}`, nonce: "n", address: "flooder" }));
  }
  assertFull(
    () => cache.remember({ vaultId: "v9", nonce: "n", address: "flooder" }),
    /from this address/,
  );
  assert.ok(cache.remember({ vaultId: "v9", nonce: "n", address: "honest" }));
});

Deno.test("nonce cache agrees with a plain set of strings over growth, wrap-around, expiry and shrinking", () => {
  const clock = new ManualClock();
  const cache = new NonceCache(clock, { perVault: 1_000_000, perAddress: 1_000_000, total: 5000 });
  /** The model: every live (vault, nonce) with its expiry, in arrival order. */
  const live = new Map<string, number>();
  let seed = 7;
  const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  /** Advances the clock by `ms`, then offers the cache and the model one nonce. */
  const step = (ms: number, where: string) => {
    clock.advance(ms);
    for (const [key, expiry] of live) {
      if (expiry > clock.now()) break;
      live.delete(key);
    }
    // Few distinct nonces, so repeats (replays) are common.
    const use = { vaultId: `v${random(40)}`, nonce: `n${random(300)}`, address: `a${random(3)}` };
    const key = `${use.vaultId}\n${use.nonce}`;
    if (live.size >= 5000 && !live.has(key)) {
      assert.throws(() => cache.remember(use), ProtocolError);
      return;
    }
    assert.equal(cache.remember(use), !live.has(key), `${where}: ${key}`);
    if (!live.has(key)) live.set(key, clock.now() + 121_000);
    assert.equal(cache.size, live.size, where);
  };
  for (let i = 0; i < 60_000; i++) step(random(10), `step ${i}`);
  const peak = cache.allocated;
  assert.ok(peak > 1024, `grew to ${peak}`);
  // The traffic falls to one nonce a second: the cache gives its arrays back and still agrees.
  for (let i = 0; i < 200; i++) step(1000, `quiet step ${i}`);
  assert.ok(cache.allocated < peak, `shrank from ${peak} to ${cache.allocated}`);
});
