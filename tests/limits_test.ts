import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { parseRateLimit, TokenBuckets } from "../lib/guard/rate_limit.ts";
import { generateVaultKeys, RelayError, signRequest, vaultIdOfKeys } from "../lib/client/mod.ts";
import { bytes, PROTOCOL_3, startRelay, tempDir, vaultDevices } from "./_helpers.ts";

Deno.test("rate limit flags parse RATE/BURST, a bare RATE and 0 for off", () => {
  assert.deepEqual(parseRateLimit("20/100"), { perSecond: 20, burst: 100 });
  assert.deepEqual(parseRateLimit("0.5"), { perSecond: 0.5, burst: 1 });
  assert.equal(parseRateLimit("0"), null);
  for (const bad of ["", "x", "-1/2", "5/0", "0/5"]) {
    assert.equal(parseRateLimit(bad), undefined, bad);
  }
});

Deno.test("a token bucket allows its burst, then refuses with a retry time, then refills", () => {
  const clock = new ManualClock(0);
  const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, { clock, capacity: 100_000 });
  for (let i = 0; i < 3; i++) assert.deepEqual(buckets.take("a"), { allowed: true });
  assert.deepEqual(buckets.take("a"), { allowed: false, retryAfterSeconds: 1 });
  assert.deepEqual(buckets.take("b"), { allowed: true }, "another key has its own bucket");
  clock.advance(500);
  assert.deepEqual(buckets.take("a"), { allowed: true });
  assert.equal(buckets.take("a").allowed, false);
});

Deno.test("token buckets stay bounded: idle buckets go and the least recently used beyond capacity", () => {
  const clock = new ManualClock(0);
  const buckets = new TokenBuckets({ perSecond: 1, burst: 2 }, { clock, capacity: 100 });
  for (let i = 0; i < 1000; i++) buckets.take(`key-${i}`);
  assert.equal(buckets.size, 100);
  clock.advance(2000);
  buckets.take("fresh");
  assert.equal(buckets.size, 1, "buckets refilled to full are forgotten");
});

Deno.test("requests beyond the per-address rate get 429 rate_limited with Retry-After", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { rateLimitIp: { perSecond: 0.01, burst: 3 } });
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${relay.url}/health`);
    await response.body?.cancel();
    assert.equal(response.status, 200);
  }
  const response = await fetch(`${relay.url}/health`);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("x-vaultmesh-protocol"), "3");
  assert.ok(Number(response.headers.get("retry-after")) >= 1);
  const body = await response.json();
  assert.equal(body.error, "rate_limited");
  assert.equal(body.scope, "address");
  assert.match(body.message, /retry after \d+ s/);
});

Deno.test("the per-vault rate counts verified requests only, so strangers cannot spend it", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    rateLimitIp: null,
    rateLimitVault: { perSecond: 0.01, burst: 2 },
  });
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const path = `${relay.url}/v3/vaults/${laptop!.vaultId}/envelopes`;
  for (let i = 0; i < 10; i++) {
    const forged = await fetch(path, { method: "POST", headers: PROTOCOL_3, body: "x" });
    await forged.body?.cancel();
    assert.equal(forged.status, 401, "an unsigned request naming the vault is refused");
  }
  await laptop!.send(bytes("one"));
  await laptop!.send(bytes("two"));
  const refused = await laptop!.request("POST", "/envelopes", { body: bytes("three") });
  assert.equal(refused.status, 429);
  assert.ok(refused.headers.has("retry-after"));
  assert.equal((await refused.json()).scope, "vault");
  const [other] = await vaultDevices(relay.url, ["phone"]);
  assert.equal((await other!.send(bytes("mine"))).stored, true, "another vault is unaffected");
});

/**
 * `/health` and the status page are answered while the in-flight caps are full: they take no
 * slot, so a load balancer never takes a busy relay for a dead one.
 */
async function assertInstantRoutesAnswered(url: string): Promise<void> {
  for (const path of ["/health", "/"]) {
    const response = await fetch(`${url}${path}`);
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
  }
}

/** Waits until `url` (asked with the protocol header) answers `status`. */
async function untilStatus(url: string, status: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const response = await fetch(url, { headers: PROTOCOL_3 });
    await response.body?.cancel();
    if (response.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`${url} never answered ${status}`);
}

Deno.test("requests in flight beyond the per-address cap get 429 too_many_in_flight", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { maxConnectionsPerIp: 1, rateLimitIp: null });
  const [device] = await vaultDevices(relay.url, ["laptop"]);
  // A one-second long poll holds the only slot of 127.0.0.1 meanwhile.
  const waiting = device!.backlog({ wait: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const response = await fetch(`${relay.url}/v3/address`, { headers: PROTOCOL_3 });
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal((await response.json()).error, "too_many_in_flight");
  await assertInstantRoutesAnswered(relay.url);
  await waiting;
  await untilStatus(`${relay.url}/v3/address`, 200);
});

Deno.test("requests in flight beyond the total cap get 503 busy with Retry-After", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { maxConnections: 1, rateLimitIp: null });
  const [device] = await vaultDevices(relay.url, ["laptop"]);
  const waiting = device!.backlog({ wait: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(relay.operations.admission.inFlight, 1);
  const response = await fetch(`${relay.url}/v3/address`, { headers: PROTOCOL_3 });
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal((await response.json()).error, "busy");
  await assertInstantRoutesAnswered(relay.url);
  await waiting;
  await untilStatus(`${relay.url}/v3/address`, 200);
});

Deno.test("headers larger than the limit get 431 headers_too_large", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { maxHeaderBytes: 1024 });
  const response = await fetch(`${relay.url}/health`, {
    headers: { "x-padding": "a".repeat(2000) },
  });
  assert.equal(response.status, 431);
  const body = await response.json();
  assert.equal(body.error, "headers_too_large");
  assert.equal(body.limit, 1024);
});

Deno.test("a body that arrives too slowly gets 408 body_timeout", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { bodyTimeout: 1 });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vault}/envelopes`, relay.url);
  const headers = new Headers({ ...PROTOCOL_3, "x-vaultmesh-device": "slow" });
  const full = bytes("the whole body, never finished");
  await signRequest({ method: "POST", url, headers, body: full }, {
    privateKey: keys.privateKey,
    keyid: vault,
  });
  let stall: (() => void) | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(full.slice(0, 5));
      stall = () => controller.close();
    },
  });
  const response = await fetch(url, { method: "POST", headers, body });
  assert.equal(response.status, 408);
  assert.equal((await response.json()).error, "body_timeout");
  stall?.();
});

Deno.test("bodies beyond the relay's memory budget get 503 busy, and the budget frees with them", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    // 12 000 bytes in all, 3000 for one client address (all of this test's requests).
    adjustLimits: (limits) => ({
      ...limits,
      memory: { ...limits.memory, requestBytes: 12_000, requestBytesPerAddress: 3000 },
    }),
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vault}/envelopes`, relay.url);
  const headers = new Headers({ ...PROTOCOL_3, "x-vaultmesh-device": "slow" });
  const full = new Uint8Array(2500);
  await signRequest({ method: "POST", url, headers, body: full }, {
    privateKey: keys.privateKey,
    keyid: vault,
  });
  // A body without Content-Length is held as it arrives: 2000 bytes, then nothing.
  const abort = new AbortController();
  let finish: (() => void) | undefined;
  const stalled = fetch(url, {
    method: "POST",
    headers,
    signal: abort.signal,
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(full.slice(0, 2000));
        finish = () => controller.close();
      },
    }),
  }).catch(() => undefined);
  const [laptop] = await vaultDevices(relay.url, ["laptop"], { keys });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await assert.rejects(laptop!.send(new Uint8Array(2000)), (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.status, 503);
    assert.equal(error.code, "busy");
    return true;
  });
  abort.abort();
  finish?.();
  await stalled;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await laptop!.send(new Uint8Array(2000))).stored, true, "the budget was freed");
});

Deno.test("sends beyond a socket's unanswered limit get too_many_in_flight, each send one reply", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless" }, {
    adjustLimits: (limits) => ({
      ...limits,
      // Every frame to the reader leaves bytes queued, so each send waits for the reader.
      socket: {
        ...limits.socket,
        maxSendsInFlight: 2,
        highWaterBytes: 0,
        minHighWaterBytes: 0,
        slowReaderMs: 60_000,
      },
    }),
  });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const reader = await phone!.connect();
  const sender = await laptop!.connect();
  const results = await Promise.allSettled(
    Array.from({ length: 40 }, () => sender.send(new Uint8Array(1024))),
  );
  const refused = results.filter((result) =>
    result.status === "rejected" && (result.reason as RelayError).code === "too_many_in_flight"
  );
  const delivered = results.filter((result) => result.status === "fulfilled");
  assert.ok(refused.length > 0, "some sends were refused");
  assert.ok(delivered.length >= 2, "sends within the limit were delivered");
  assert.equal(refused.length + delivered.length, 40, "every send got exactly one answer");
  await sender.close();
  await reader.close();
});

Deno.test("long polls from one address cannot hold the in-flight cap: the oldest is answered early", async () => {
  using dir = tempDir();
  // In-flight cap 8: long polls may hold 4 slots at most.
  await using relay = await startRelay(dir.path, { maxConnections: 8, rateLimitIp: null });
  const [sender, ...pollers] = await vaultDevices(relay.url, ["s", "p1", "p2", "p3", "p4", "p5"]);
  const started = performance.now();
  // Five polls for four places: whichever entered first is answered at once, empty.
  const polls = pollers.map((device, i) =>
    device.backlog({ wait: 30 }).then((page) => ({ i, page }))
  );
  const first = await Promise.race(polls);
  assert.deepEqual(first.page.envelopes, [], "the oldest poll came back early and empty");
  assert.ok(performance.now() - started < 25_000);
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200, "a new request still gets a slot");
  await health.body?.cancel();
  await sender!.send(bytes("wake the rest"));
  const rest = await Promise.all(polls.filter((_, i) => i !== first.i));
  assert.equal(rest.filter(({ page }) => page.envelopes.length === 1).length, 4, "the rest got it");
});

Deno.test("one address creating vaults beyond its budget gets 429; its existing vaults still work", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: (limits) => ({ ...limits, newVaultsPerAddress: { perSecond: 0.001, burst: 2 } }),
  });
  const vaults = await Promise.all(
    [1, 2, 3].map(async () => (await vaultDevices(relay.url, ["laptop"]))[0]!),
  );
  await vaults[0]!.send(bytes("one"));
  await vaults[1]!.send(bytes("two"));
  await assert.rejects(vaults[2]!.send(bytes("three")), (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.equal(error.body.scope, "new_vaults");
    return true;
  });
  assert.equal((await vaults[0]!.send(bytes("again"))).seq, 2, "an existing vault is not charged");
});
