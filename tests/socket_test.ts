import assert from "node:assert/strict";
import type { ReceivedEnvelope, RelayClient } from "../lib/client/mod.ts";
import { ManualClock } from "../lib/clock.ts";
import type { Mode } from "../lib/config/mod.ts";
import { freePort } from "../scripts/relay_process.ts";
import { processMemory } from "../scripts/bench/_memory.ts";
import { metricValue } from "../scripts/bench/_abuse_net.ts";
import { bytes, spawnTestRelay, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";

/** A connected device that records what it receives. */
async function live(client: RelayClient, options: { after?: number } = {}) {
  const received: ReceivedEnvelope[] = [];
  const events: string[] = [];
  const waiters: (() => void)[] = [];
  const socket = await client.connect({
    ...options,
    onEnvelope: (envelope) => {
      received.push(envelope);
      waiters.splice(0).forEach((wake) => wake());
    },
    onPresence: (event) => events.push(`${event.type} ${event.device}`),
  });
  const waitFor = async (count: number) => {
    while (received.length < count) {
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { socket, received, events, waitFor };
}

for (const mode of ["store-and-forward", "stateless"] as Mode[]) {
  Deno.test(`three devices exchange envelopes live over sockets in ${mode} mode`, async () => {
    using dir = tempDir();
    await using relay = await startRelay(dir.path, { mode });
    const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
    const a = await live(laptop!);
    const b = await live(phone!);
    const c = await live(tablet!);
    const first = await a.socket.send(bytes("hello all"));
    assert.equal(first.recipients, 2);
    assert.equal(first.stored, mode === "store-and-forward");
    await b.socket.send(bytes("just laptop"), { to: "laptop" });
    await Promise.all([a.waitFor(1), b.waitFor(1), c.waitFor(1)]);
    assert.deepEqual(a.received.map((e) => [e.from, text(e.body)]), [["phone", "just laptop"]]);
    assert.deepEqual(b.received.map((e) => [e.seq, e.from, text(e.body)]), [[
      1,
      "laptop",
      "hello all",
    ]]);
    assert.deepEqual(c.received.map((e) => text(e.body)), ["hello all"]);
    await Promise.all([a.socket.close(), b.socket.close(), c.socket.close()]);
  });

  Deno.test(`another vault's sockets receive nothing in ${mode} mode`, async () => {
    using dir = tempDir();
    await using relay = await startRelay(dir.path, { mode });
    const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
    const [stranger] = await vaultDevices(relay.url, ["phone"]);
    const spy = await live(stranger!);
    const friend = await live(phone!);
    await laptop!.send(bytes("secret"));
    await friend.waitFor(1);
    assert.deepEqual(spy.received, []);
    await Promise.all([spy.socket.close(), friend.socket.close()]);
  });
}

Deno.test("a reconnecting device receives exactly what it missed, in order, with no duplicates after acking", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const first = await live(phone!);
  for (const word of ["a", "b", "c"]) await laptop!.send(bytes(word));
  await first.waitFor(3);
  await first.socket.ack(3);
  await first.socket.close();

  for (const word of ["d", "e", "f", "g"]) await laptop!.send(bytes(word));
  const second = await live(phone!);
  assert.equal(second.socket.ready.acked, 3);
  await second.waitFor(4);
  await laptop!.send(bytes("h"));
  await second.waitFor(5);
  assert.deepEqual(second.received.map((e) => [e.seq, text(e.body)]), [
    [4, "d"],
    [5, "e"],
    [6, "f"],
    [7, "g"],
    [8, "h"],
  ]);
  await second.socket.close();
});

Deno.test("envelopes sent on a socket are stored under the same rules as HTTP", async () => {
  using dir = tempDir();
  // Room for one 10-byte envelope and its 512 bytes of overhead.
  await using relay = await startRelay(dir.path, { maxBuffer: 522 });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const a = await live(laptop!);
  assert.equal((await a.socket.send(bytes("0123456789"), { idempotencyKey: "k1" })).seq, 1);
  assert.equal(
    (await a.socket.send(bytes("0123456789"), { idempotencyKey: "k1" })).duplicate,
    true,
  );
  await assert.rejects(a.socket.send(bytes("x")), /buffer holds 522 of 522 bytes/);
  assert.deepEqual((await phone!.backlog()).envelopes.map((e) => text(e.body)), ["0123456789"]);
  await a.socket.close();
});

Deno.test("a wrong challenge answer is refused with close code 4001", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const [impostor] = await vaultDevices(relay.url, ["laptop"]);
  // The impostor signs with its own key but claims the laptop's vault.
  const url = new URL(
    `/v3/vaults/${laptop!.vaultId}/socket?device=laptop`,
    relay.url.replace("http", "ws"),
  );
  const ws = new WebSocket(url, ["vaultmesh.3"]);
  const closed = new Promise<number>((resolve) =>
    ws.addEventListener("close", (e) => resolve(e.code))
  );
  ws.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== "challenge") return;
    const keys = (impostor as unknown as { options: { keys: CryptoKeyPair } }).options.keys;
    const signature = new Uint8Array(
      await crypto.subtle.sign("Ed25519", keys.privateKey, bytes(message.challenge)),
    );
    ws.send(JSON.stringify({ type: "auth", signature: signature.toBase64() }));
  };
  assert.equal(await closed, 4001);
  assert.equal(relay.sockets.size, 0);
});

Deno.test("socket peers receive join and leave events", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const a = await live(laptop!);
  const b = await live(phone!);
  assert.deepEqual(b.socket.ready.connected, ["laptop"]);
  await b.socket.close();
  // Events travel on A's own connection: wait for them rather than for another request.
  for (let waited = 0; a.events.length < 2 && waited < 5000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(a.events, ["join phone", "leave phone"]);
  await a.socket.close();
});

Deno.test("presence blobs are listed with connection state and expire", async () => {
  using dir = tempDir();
  const clock = new ManualClock();
  await using relay = await startRelay(dir.path, {}, { clock });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"], { clock });
  const a = await live(laptop!);
  await a.socket.publishPresence(bytes("laptop candidates"), 60);
  const put = await phone!.request("PUT", "/presence", {
    body: bytes("phone candidates"),
    query: { ttl: 120 },
  });
  assert.equal(put.status, 200);
  const list = async () => (await (await laptop!.request("GET", "/presence")).json()).devices;
  const devices = await list();
  assert.deepEqual(
    devices.map((
      d: Record<string, unknown>,
    ) => [d.device, text(Uint8Array.fromBase64(d.blob as string)), d.connected]),
    [["laptop", "laptop candidates", true], ["phone", "phone candidates", false]],
  );
  clock.advance(61_000);
  assert.deepEqual((await list()).map((d: Record<string, unknown>) => d.device), [
    "phone",
    "laptop",
  ]);
  clock.advance(60_000);
  assert.deepEqual((await list()).map((d: Record<string, unknown>) => [d.device, d.blob]), [[
    "laptop",
    "",
  ]]);
  await a.socket.close();
});

Deno.test("the address endpoint answers the caller's address and port", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const response = await fetch(`${relay.url}/v3/address`, {
    headers: { "x-vaultmesh-protocol": "3" },
  });
  const body = await response.json();
  assert.equal(body.address, "127.0.0.1");
  assert.ok(Number.isInteger(body.port) && body.port > 0);
});

Deno.test("stopping the relay closes sockets with 4012 so devices reconnect later", async () => {
  using dir = tempDir();
  const relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const a = await live(laptop!);
  await relay.stop();
  assert.deepEqual(await a.socket.closed, {
    code: 4012,
    reason: "relay restarting; reconnect later",
  });
});

Deno.test("stateless mode writes no file and nothing it was sent anywhere", async () => {
  using dir = tempDir();
  const marker = "STATELESS-MARKER-" + crypto.randomUUID();
  {
    await using relay = await startRelay(dir.path, { mode: "stateless" });
    const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
    const b = await live(phone!);
    const sent = await laptop!.send(bytes(marker));
    assert.deepEqual([sent.stored, sent.recipients], [false, 1]);
    const nobody = await phone!.send(bytes(marker), { to: "tablet" });
    assert.equal(nobody.recipients, 0, "no recipient connected is a 200 with recipients 0");
    await b.waitFor(1);
    await b.socket.close();
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "no database, no other file");
});

/**
 * Sends `size`-byte envelopes from `client` one after another until stopped (or `max` were
 * accepted), noting the code of each refusal and trying again 50 ms later.
 */
function keepSending(client: RelayClient, size: number, max = Infinity) {
  let sent = 0;
  let stop = false;
  const refusals = new Set<string>();
  const sending = (async () => {
    while (!stop && sent < max) {
      try {
        await client.send(new Uint8Array(size));
        sent++;
      } catch (error) {
        // A send still waiting when the relay stops fails; others may meet a refusal.
        refusals.add((error as { code?: string }).code ?? String(error));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
  return {
    get sent() {
      return sent;
    },
    refusals,
    /** Stops sending and waits for the last send. */
    stop() {
      stop = true;
      return sending;
    },
  };
}

/** A raw WebSocket client that authenticates and then never reads again. */
async function stalledReader(url: string, client: RelayClient): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const path = `/v3/vaults/${client.vaultId}/socket?device=${client.device}`;
  await conn.write(bytes(
    `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Protocol: vaultmesh.3\r\n\r\n",
  ));
  let seen = "";
  const buffer = new Uint8Array(4096);
  while (!/"challenge":"([^"]+)"/.test(seen)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed before the challenge");
    seen += new TextDecoder("latin1").decode(buffer.subarray(0, n));
  }
  const challenge = /"challenge":"([^"]+)"/.exec(seen)![1]!;
  const keys = (client as unknown as { options: { keys: CryptoKeyPair } }).options.keys;
  const { socketAuthMessage } = await import("../lib/protocol/socket_frames.ts");
  const signed = socketAuthMessage({
    authority: `${hostname}:${port}`,
    challenge,
    vaultId: client.vaultId,
    deviceId: client.device,
  });
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", keys.privateKey, signed));
  const payload = bytes(JSON.stringify({ type: "auth", signature: signature.toBase64() }));
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array([
    0x81,
    0x80 | 126,
    payload.length >> 8,
    payload.length & 255,
    ...mask,
    ...payload.map((b, i) => b ^ mask[i % 4]!),
  ]);
  await conn.write(frame);
  while (!seen.includes('"ready"')) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed before ready");
    seen += new TextDecoder("latin1").decode(buffer.subarray(0, n));
  }
  return conn;
}

Deno.test("a reader that stops reading is cut off while the relay's memory stays bounded", async () => {
  // A relay process of its own, so that its memory is its own: `deno test --parallel` runs other
  // test modules on threads of this process.
  using dir = tempDir();
  const metricsPort = freePort();
  await using relay = await spawnTestRelay(dir.path, [
    "--mode",
    "stateless",
    "--metrics-listen",
    `127.0.0.1:${metricsPort}`,
  ]);
  const socketsOpen = () => metricValue(metricsPort, "vaultmesh_relay_sockets_open");
  const [laptop, slow] = await vaultDevices(relay.url, ["laptop", "slow"]);
  const conn = await stalledReader(relay.url, slow!);
  assert.equal(await socketsOpen(), 1);
  const body = new Uint8Array(256 * 1024);
  const before = processMemory(relay.child.pid).anonBytes;
  let delivered = 0;
  for (let i = 0; i < 400; i++) {
    const { recipients } = await laptop!.send(body);
    if (recipients === 0) break;
    delivered += recipients;
  }
  const grown = processMemory(relay.child.pid).anonBytes - before;
  assert.equal(await socketsOpen(), 0, "the stalled reader was disconnected");
  assert.ok(delivered < 400, `only ${delivered} envelopes went to the stalled reader`);
  // Sends stop at the cut (a reader never cut fails above, with 100 MiB sent to it); what was
  // queued for it is freed with it.
  assert.ok(grown < 48 * 1024 * 1024, `the relay's anonymous memory grew by ${grown} bytes`);
  conn.close();
});

Deno.test("a vault's stalled readers share its queue budget instead of each queueing a lone reader's mark", async () => {
  using dir = tempDir();
  const readers = 8;
  const frame = 64 * 1024;
  // Served directly: the connection gate would see that these clients read nothing and stop
  // pushing to them before their queues grow (the next test).
  await using relay = await startRelay(dir.path, {
    mode: "stateless",
    connectionGate: "off",
    rateLimitIp: null,
    rateLimitVault: null,
  }, {
    adjustLimits: (limits) => ({
      ...limits,
      socket: {
        ...limits.socket,
        highWaterBytes: 1024 * 1024,
        vaultQueueBytes: 1024 * 1024,
        minHighWaterBytes: 64 * 1024,
        slowReaderMs: 60_000,
      },
    }),
  });
  const share = relay.limits.socket.vaultQueueBytes / readers;
  const [laptop, ...devices] = await vaultDevices(
    relay.url,
    ["laptop", ...Array.from({ length: readers }, (_, i) => `stalled-${i}`)],
  );
  const conns = await Promise.all(devices.map((device) => stalledReader(relay.url, device!)));
  // The laptop sends until a reader's kernel buffers are full and the relay queues for it beyond
  // its share: its sends then wait for a reader that never reads.
  const sender = keepSending(laptop!, frame, 2000);
  let peak = { one: 0, all: 0 };
  const look = async () => {
    const { largestQueue, queuedBytes } = relay.sockets;
    peak = { one: Math.max(peak.one, largestQueue), all: Math.max(peak.all, queuedBytes) };
    await new Promise((resolve) => setTimeout(resolve, 20));
  };
  for (let looks = 0; looks < 1500 && relay.sockets.largestQueue <= share; looks++) await look();
  assert.ok(
    relay.sockets.largestQueue > share,
    `no reader got behind: ${sender.sent} sent (refusals: ${[...sender.refusals]})`,
  );
  const heldAt = sender.sent;
  // Held: more looks find no reader queueing more than its share plus the frame that crossed it.
  for (let looks = 0; looks < 25; looks++) await look();
  assert.ok(peak.one <= share + frame + 1024, `one reader queued ${peak.one} bytes`);
  const bound = readers * (share + frame + 1024);
  assert.ok(peak.all <= bound, `queued ${peak.all} bytes in all, more than ${bound}`);
  assert.ok(sender.sent <= heldAt + 1, `the sender was held back (${heldAt} -> ${sender.sent})`);
  const stopped = sender.stop();
  for (const conn of conns) conn.close();
  await stopped;
});

Deno.test("through the gate, readers that read nothing are all cut at their deadlines and the sender goes on", async () => {
  using dir = tempDir();
  const readers = 8;
  const slowReaderMs = 2000;
  await using relay = await startRelay(
    dir.path,
    { mode: "stateless", rateLimitIp: null, rateLimitVault: null },
    { adjustLimits: (limits) => ({ ...limits, socket: { ...limits.socket, slowReaderMs } }) },
  );
  const [laptop, ...devices] = await vaultDevices(
    relay.url,
    ["laptop", ...Array.from({ length: readers }, (_, i) => `stalled-${i}`)],
  );
  const conns = await Promise.all(devices.map((device) => stalledReader(relay.url, device!)));
  const sender = keepSending(laptop!, 64 * 1024);
  // The gate sees each one stop reading once its kernel buffers are full (the outbox unit tests
  // show that this alone leaves it no room); readers whose buffers fill together are cut at the
  // same deadline. How many deadlines it takes is not asserted: it depends on the scheduling.
  for (let look = 0; look < 1500 && relay.sockets.size > 0; look++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(relay.sockets.size, 0, `every reader was cut (refusals: ${[...sender.refusals]})`);
  const afterCut = sender.sent;
  for (let look = 0; look < 250 && sender.sent < afterCut + 10; look++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(sender.sent >= afterCut + 10, `the sender goes on (${afterCut} -> ${sender.sent})`);
  const stopped = sender.stop();
  for (const conn of conns) conn.close();
  await stopped;
});

Deno.test("a vault's sockets beyond --max-sockets-per-vault are closed with 4029 after authentication", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { maxSocketsPerVault: 2 });
  const [a, b, c] = await vaultDevices(relay.url, ["a", "b", "c"]);
  const first = await live(a!);
  const second = await live(b!);
  await assert.rejects(c!.connect(), (error: unknown) => {
    assert.equal((error as { code?: string }).code, "too_many_sockets");
    return true;
  });
  const [other] = await vaultDevices(relay.url, ["a"]);
  const unaffected = await live(other!);
  await Promise.all([first.socket.close(), second.socket.close(), unaffected.socket.close()]);
});

Deno.test("a socket that stops answering pings is closed after --socket-idle-timeout", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { socketIdleTimeout: 1 });
  const [silent] = await vaultDevices(relay.url, ["silent"]);
  const conn = await stalledReader(relay.url, silent!);
  assert.equal(relay.sockets.size, 1);
  const deadline = Date.now() + 10_000;
  while (relay.sockets.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(relay.sockets.size, 0, "the silent socket was closed");
  conn.close();
});

Deno.test("stateless seqs keep increasing and a retried idempotency key is not delivered twice", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless" });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  assert.equal((await laptop!.send(bytes("nobody listens"))).seq, 1);
  assert.equal((await laptop!.send(bytes("still nobody"))).seq, 2);
  const b = await live(phone!);
  const first = await laptop!.send(bytes("once"), { idempotencyKey: "op-1" });
  const retry = await laptop!.send(bytes("once"), { idempotencyKey: "op-1" });
  assert.deepEqual([first.seq, retry.seq, retry.duplicate], [3, 3, true]);
  await b.waitFor(1);
  await laptop!.usage(); // a round trip after the retry
  assert.deepEqual(b.received.map((e) => text(e.body)), ["once"]);
  await b.socket.close();
});

Deno.test("purge also forgets the vault's presence blobs", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  await laptop!.request("PUT", "/presence", { body: bytes("candidates") });
  await laptop!.purge();
  const listed = await (await laptop!.request("GET", "/presence")).json();
  assert.deepEqual(listed.devices, []);
});

Deno.test("socket control replies carry the request's id, and errors explain themselves", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const a = await live(laptop!);
  await assert.rejects(a.socket.ack(5), (error: unknown) => {
    const body = (error as { body: Record<string, unknown> }).body;
    assert.equal(body.error, "ack_beyond_latest");
    assert.equal(body.latest_seq, 0);
    return true;
  });
  await assert.rejects(
    a.socket.send(bytes("x"), { idempotencyKey: "has space" }),
    /idempotency key/,
  );
  await assert.rejects(a.socket.publishPresence(new Uint8Array(5000)), /larger than 4096 bytes/);
  assert.ok(await a.socket.publishPresence(bytes("ok"), 60) > 0);
  await a.socket.close();
});
