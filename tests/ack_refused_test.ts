/**
 * What a device gets again after the relay refused its ack with 429, and what it must never get
 * again: the soak (`scripts/bench/soak.ts`) once counted thousands of envelopes "delivered twice"
 * in a run with many 429s. An ack refused by the per-vault rate limit or the replay cache changes
 * nothing, so the page is served again whole (at-least-once delivery); an envelope an accepted ack
 * covered never comes back, over HTTP or the socket. The duplicates were seqs handed out twice: a
 * purge followed by the expiry sweep forgot the vault and restarted its seqs at 1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RelayClient, RelayError } from "../lib/client/mod.ts";
import { ManualClock } from "../lib/clock.ts";
import type { Relay } from "../lib/relay.ts";
import { bytes, startHourlyRelay, startRelay, sweepOf, tempDir, vaultDevices } from "./_helpers.ts";

const HOUR = 3600_000;

/** Seqs of a backlog page. */
async function seqs(client: RelayClient, query: { after?: number; limit?: number } = {}) {
  return (await client.backlog(query)).envelopes.map((e) => e.seq);
}

/** The refusal an ack of `seq` gets; fails unless it is a 429 with `code`. */
async function refusedAck(client: RelayClient, seq: number, code: string): Promise<RelayError> {
  let refusal: RelayError | undefined;
  await assert.rejects(client.ack(seq), (error: unknown) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.code, code);
    refusal = error;
    return true;
  });
  return refusal!;
}

/** What the relay holds for `device`, read without a request (which would spend the rate). */
async function held(relay: Relay, vault: string, device: string) {
  const page = await relay.mode.backlog({ vault, device, limit: 1000, maxBytes: 1 << 30 });
  const usage = await relay.mode.usage(vault);
  return { acked: page.acked, seqs: page.envelopes.map((e) => e.seq), stored: usage.envelopes };
}

Deno.test("an ack refused by the per-vault rate changes nothing: the page comes again, nothing acknowledged does", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startRelay(dir.path, {
    rateLimitIp: null,
    rateLimitVault: { perSecond: 1, burst: 3 },
  }, { clock });
  const [sender, reader] = await vaultDevices(relay.url, ["sender", "reader"], { clock });
  const vault = sender!.vaultId;
  const refill = () => clock.advance(10_000);
  for (let i = 0; i < 6; i++) {
    if (i % 3 === 0) refill();
    await sender!.send(bytes(`m${i + 1}`));
  }

  refill();
  assert.deepEqual(await seqs(reader!, { limit: 3 }), [1, 2, 3]);
  assert.deepEqual(await reader!.ack(3), { acked: 3, deleted: 3 });
  assert.deepEqual(await seqs(reader!, { after: 3, limit: 3 }), [4, 5, 6]);
  const refusal = await refusedAck(reader!, 6, "rate_limited");
  assert.equal(refusal.body.scope, "vault");
  assert.equal(typeof refusal.body.retry_after, "number");
  assert.deepEqual(
    await held(relay, vault, "reader"),
    { acked: 3, seqs: [4, 5, 6], stored: 3 },
    "the refused ack moved no cursor and deleted nothing",
  );

  // After Retry-After: the default cursor serves the refused page again, and only it.
  clock.advance((refusal.body.retry_after as number) * 1000);
  assert.deepEqual(await seqs(reader!), [4, 5, 6]);
  refill();
  assert.deepEqual(await reader!.ack(6), { acked: 6, deleted: 3 });
  refill();
  assert.deepEqual(await seqs(reader!), []);
  assert.deepEqual(await seqs(reader!, { after: 0 }), [], "acknowledged envelopes are gone");
  assert.deepEqual(await held(relay, vault, "reader"), { acked: 6, seqs: [], stored: 0 });
});

Deno.test("an ack refused on the socket changes nothing; a new socket pushes the rest again, never what was acknowledged", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  // One token: each HTTP request and socket control message of the vault needs a refill.
  await using relay = await startRelay(dir.path, {
    rateLimitIp: null,
    rateLimitVault: { perSecond: 1, burst: 1 },
  }, { clock });
  const [sender, reader] = await vaultDevices(relay.url, ["sender", "reader"], { clock });
  const vault = sender!.vaultId;
  const refill = () => clock.advance(10_000);
  const live = async (count: number) => {
    const received: number[] = [];
    const socket = await reader!.connect({ onEnvelope: (e) => received.push(e.seq) });
    for (let i = 0; i < 500 && received.length < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { socket, received };
  };
  for (let i = 0; i < 4; i++) {
    refill();
    await sender!.send(bytes(`m${i + 1}`));
  }

  refill();
  const first = await live(4);
  assert.deepEqual(first.received, [1, 2, 3, 4]);
  assert.deepEqual(await first.socket.ack(2), { acked: 2, deleted: 2 });
  await assert.rejects(first.socket.ack(4), (error: unknown) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.code, "rate_limited");
    return true;
  });
  assert.deepEqual(await held(relay, vault, "reader"), { acked: 2, seqs: [3, 4], stored: 2 });
  await first.socket.close();

  refill();
  const second = await live(2);
  assert.deepEqual(second.received, [3, 4], "the refused part again, nothing acknowledged");
  assert.deepEqual(await second.socket.ack(4), { acked: 4, deleted: 2 });
  await second.socket.close();

  refill();
  await sender!.send(bytes("m5"));
  refill();
  const third = await live(1);
  assert.deepEqual(third.received, [5], "nothing acknowledged is pushed again");
  await third.socket.close();
});

Deno.test("an ack refused because the vault's replay cache is full changes nothing", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startRelay(dir.path, { rateLimitIp: null, rateLimitVault: null }, {
    clock,
    adjustLimits: (limits) => ({
      ...limits,
      signatures: { ...limits.signatures, noncesPerVault: 4 },
    }),
  });
  const [sender, reader] = await vaultDevices(relay.url, ["sender", "reader"], { clock });
  const vault = sender!.vaultId;
  await sender!.send(bytes("one"));
  await sender!.send(bytes("two"));
  assert.deepEqual(await seqs(reader!), [1, 2]);
  assert.deepEqual(await seqs(reader!), [1, 2]);
  await refusedAck(reader!, 2, "replay_cache_full");
  assert.deepEqual(await held(relay, vault, "reader"), { acked: 0, seqs: [1, 2], stored: 2 });

  clock.advance(125_000);
  assert.deepEqual(await seqs(reader!), [1, 2], "the refused page is served again");
  assert.deepEqual(await reader!.ack(2), { acked: 2, deleted: 2 });
  assert.deepEqual(await seqs(reader!, { after: 0 }), []);
});

Deno.test("a purged vault keeps its seq counter through the expiry sweep; only an idle one is forgotten", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startHourlyRelay(dir.path, clock);
  const sweep = sweepOf(relay);
  const [sender, reader] = await vaultDevices(relay.url, ["sender", "reader"], { clock });
  for (let i = 0; i < 3; i++) await sender!.send(bytes(`m${i + 1}`));
  assert.deepEqual(await seqs(reader!), [1, 2, 3]);
  await reader!.ack(3);
  await sender!.purge();
  // The sweep runs before the vault's next request: nothing stored, no device row left.
  await sweep();
  const next = await sender!.send(bytes("after the purge"));
  assert.equal(next.seq, 4, "seqs continue upward after a purge (PROTOCOL.md, Seq)");
  assert.deepEqual(await seqs(reader!, { after: 3 }), [4]);
  assert.deepEqual(await seqs(reader!), [4], "the reader's cursor went with the purge");

  // A purged vault nobody uses for the TTL is forgotten like any idle vault.
  await sender!.purge();
  clock.advance(HOUR / 2);
  await sweep();
  assert.equal((await relay.mode.usage(sender!.vaultId)).latestSeq, 4, "purged 30 min ago");
  clock.advance(HOUR / 2 + 1);
  await sweep();
  assert.equal((await relay.mode.usage(sender!.vaultId)).latestSeq, 0, "idle past the TTL");
});
