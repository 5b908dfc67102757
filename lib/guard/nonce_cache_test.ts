import assert from "node:assert/strict";
import { NonceCache } from "./nonce_cache.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";

const CAPACITY = { perVault: 20_000, total: 500_000 };

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
  assert.equal(cache.remember("vault-a", "n1"), true);
  assert.equal(cache.remember("vault-a", "n1"), false);
  assert.equal(cache.remember("vault-b", "n1"), true);
});

Deno.test("nonce cache forgets a nonce once no signature carrying it can be accepted", () => {
  const clock = new ManualClock();
  const cache = new NonceCache(clock, CAPACITY);
  cache.remember("vault-a", "n1");
  clock.advance(120_000);
  assert.equal(cache.remember("vault-a", "n1"), false, "still inside twice the window");
  clock.advance(2_000);
  assert.equal(cache.remember("vault-a", "n1"), true);
  assert.equal(cache.size, 1);
});

Deno.test("a vault that fills its share of the nonce cache does not block other vaults", () => {
  const clock = new ManualClock();
  const cache = new NonceCache(clock, { perVault: 3, total: 10 });
  for (const nonce of ["a", "b", "c"]) cache.remember("busy", nonce);
  assertFull(() => cache.remember("busy", "d"), /for this vault/);
  assert.equal(cache.remember("quiet", "a"), true);
  clock.advance(122_000);
  assert.equal(cache.remember("busy", "d"), true, "room again once the old nonces expire");
});

Deno.test("a full nonce cache turns requests away instead of forgetting live nonces", () => {
  const cache = new NonceCache(new ManualClock(), { perVault: 10, total: 4 });
  for (const vault of ["v1", "v2", "v3", "v4"]) cache.remember(vault, "x");
  assertFull(() => cache.remember("v5", "x"), /too many signed requests/);
  assert.equal(cache.remember("v1", "x"), false, "a remembered nonce is still refused");
});
