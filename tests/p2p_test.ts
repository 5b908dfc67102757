import assert from "node:assert/strict";
import net from "node:net";
import { multiaddr } from "@multiformats/multiaddr";
import type { Libp2p, Stream } from "@libp2p/interface";
import type { Config } from "../lib/config/mod.ts";
import type { Relay } from "../lib/relay.ts";
import { startRelay, tempDir } from "./_helpers.ts";
import { createPeer, HopStatus, reserve, startNode, waitFor } from "./_p2p.ts";
import { freePort } from "../scripts/relay_process.ts";

const ECHO = "/vaultmesh-test/echo/1.0.0";

async function startP2pRelay(dir: string, overrides: Partial<Config> = {}): Promise<Relay> {
  return await startRelay(dir, { p2pPort: freePort(), ...overrides });
}

function relayAddress(relay: Relay): string {
  const address = relay.p2p?.multiaddrs()[0];
  assert.ok(address, "the relay has a p2p address");
  return address;
}

function serveEcho(node: Libp2p): Promise<void> {
  return node.handle(ECHO, async (stream) => {
    for await (const chunk of stream) stream.send(chunk.subarray());
    await stream.close();
  }, { runOnLimitedConnection: true });
}

/**
 * Peer A reserves a slot on the relay and serves echo; peer B opens an echo stream to A through
 * the relay's circuit address. Disposing stops both peers.
 */
async function echoCircuit(relay: Relay) {
  const relayAddr = relayAddress(relay);
  const a = await createPeer([`${relayAddr}/p2p-circuit`]);
  await serveEcho(a);
  await waitFor(
    "a circuit address",
    () => a.getMultiaddrs().some((m) => m.toString().includes("p2p-circuit")),
  );
  const b = await createPeer();
  const stream = await b.dialProtocol(
    multiaddr(`${relayAddr}/p2p-circuit/p2p/${a.peerId}`),
    ECHO,
    { runOnLimitedConnection: true },
  );
  return {
    a,
    b,
    stream,
    async [Symbol.asyncDispose]() {
      await b[Symbol.asyncDispose]();
      await a[Symbol.asyncDispose]();
    },
  };
}

/** Sends `total` bytes in 1 KiB chunks and reads the echo; returns the bytes that came back. */
async function echoThrough(stream: Stream, total: number): Promise<{ received: number }> {
  const chunk = new Uint8Array(1024).fill(7);
  const reading = (async () => {
    let received = 0;
    for await (const data of stream) received += data.byteLength;
    return received;
  })();
  for (let sent = 0; sent < total && stream.status === "open"; sent += chunk.byteLength) {
    if (!stream.send(chunk)) {
      await new Promise((resolve) => stream.addEventListener("drain", resolve, { once: true }));
    }
  }
  await stream.close().catch(() => {});
  return { received: await reading.catch(() => -1) };
}

Deno.test({
  name: "a peer reserves a slot and another peer reaches it through the relay's circuit address",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path);
    await using circuit = await echoCircuit(relay);
    const { stream } = circuit;
    assert.equal(relay.p2p!.stats().reservations, 1);
    await waitFor("a circuit on the relay", () => relay.p2p!.stats().circuits === 1);
    const message = new TextEncoder().encode("hello through the relay");
    const reply = (async () => {
      const parts: Uint8Array[] = [];
      for await (const data of stream) parts.push(data.subarray());
      return new TextDecoder().decode(new Uint8Array(parts.flatMap((p) => [...p])));
    })();
    stream.send(message);
    await stream.close();
    assert.equal(await reply, "hello through the relay");
  },
});

Deno.test({
  name: "the relay keeps its peer id across a restart on the same database",
  fn: async () => {
    using dir = tempDir();
    const first = await startP2pRelay(dir.path);
    const peerId = first.p2p!.peerId;
    await first.stop();
    await using second = await startP2pRelay(dir.path);
    assert.match(peerId, /^12D3KooW/);
    assert.equal(second.p2p!.peerId, peerId);
    assert.ok(second.p2p!.multiaddrs().every((address) => address.endsWith(`/p2p/${peerId}`)));
  },
});

Deno.test({
  name: "a stateless relay keeps no database: its peer id survives a restart in its key file alone",
  fn: async () => {
    using dir = tempDir();
    const first = await startP2pRelay(dir.path, { mode: "stateless" });
    const peerId = first.p2p!.peerId;
    assert.equal(first.database, undefined);
    await first.stop();
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["relay.p2p-key"]);
    if (Deno.build.os !== "windows") {
      assert.equal(Deno.statSync(`${dir.path}/relay.p2p-key`).mode! & 0o777, 0o600);
    }
    await using second = await startP2pRelay(dir.path, { mode: "stateless" });
    assert.equal(second.p2p!.peerId, peerId);
  },
});

Deno.test({
  name: "the relay releases a reservation when its peer disconnects so a new peer gets the slot",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, { p2pMaxReservations: 1 });
    const relayAddr = relayAddress(relay);
    const a = await createPeer();
    await using c = await createPeer();
    assert.equal((await reserve(a, relayAddr)).status, HopStatus.OK);
    assert.equal((await reserve(c, relayAddr)).status, HopStatus.RESERVATION_REFUSED);
    await a.stop();
    await waitFor("the reservation to go", () => relay.p2p!.stats().reservations === 0);
    assert.equal((await reserve(c, relayAddr)).status, HopStatus.OK);
    assert.equal(relay.p2p!.stats().reservations, 1);
  },
});

Deno.test({
  name: "the relay refuses a reservation beyond the per-IP cap",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, { p2pMaxReservationsPerIp: 2 });
    const relayAddr = relayAddress(relay);
    await using a = await createPeer();
    await using b = await createPeer();
    await using c = await createPeer();
    assert.equal((await reserve(a, relayAddr)).status, HopStatus.OK);
    assert.equal((await reserve(b, relayAddr)).status, HopStatus.OK);
    assert.equal((await reserve(c, relayAddr)).status, HopStatus.PERMISSION_DENIED);
    // A refresh by a peer that already holds a reservation takes no new slot.
    assert.equal((await reserve(a, relayAddr)).status, HopStatus.OK);
    assert.equal(relay.p2p!.stats().reservations, 2);
  },
});

Deno.test({
  name: "the relay reports its limits in a reservation, the duration in js-libp2p's milliseconds",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, {
      p2pCircuitBytes: 4096,
      p2pCircuitSeconds: 30,
    });
    await using a = await createPeer();
    const answer = await reserve(a, relayAddress(relay));
    assert.equal(answer.status, HopStatus.OK);
    assert.equal(answer.limitData, 4096);
    // The spec's Limit.duration is in seconds, but js-libp2p 3 writes the same number it times
    // circuits with, in milliseconds. We pass milliseconds so circuits close on time; when a
    // library update writes 30 here, stop multiplying by 1000 in lib/p2p/node.ts.
    assert.equal(answer.limitDuration, 30_000);
  },
});

Deno.test({
  name: "the relay closes a circuit that carries more than the data limit",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, { p2pCircuitBytes: 16 * 1024 });
    await using circuit = await echoCircuit(relay);
    const { stream } = circuit;
    const { received } = await echoThrough(stream, 256 * 1024);
    assert.ok(received < 256 * 1024, `the echo stopped early, got ${received} bytes`);
    await waitFor("the circuit to close", () => relay.p2p!.stats().circuits === 0);
  },
});

Deno.test({
  name: "the relay closes a circuit after the duration limit, counted in seconds",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, { p2pCircuitSeconds: 1 });
    await using circuit = await echoCircuit(relay);
    const { stream } = circuit;
    const opened = Date.now();
    // Still open well after a millisecond-sized limit would have cut it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(stream.status, "open");
    assert.equal(relay.p2p!.stats().circuits, 1);
    await waitFor("the circuit to close", () => relay.p2p!.stats().circuits === 0, 5000);
    assert.ok(Date.now() - opened >= 900, "closed after about a second");
  },
});

Deno.test({
  name: "the relay grants a reservation from another address when one address is at its cap",
  fn: async () => {
    using dir = tempDir();
    await using relay = await startP2pRelay(dir.path, {
      p2pMaxReservationsPerIp: 1,
      metricsListen: { hostname: "127.0.0.1", port: 0 },
    });
    const relayAddr = relayAddress(relay);
    await using a = await createPeer();
    await using b = await createPeer();
    await using c = await createPeer([], { localAddress: "127.0.0.2" });
    assert.equal((await reserve(a, relayAddr)).status, HopStatus.OK);
    assert.equal((await reserve(b, relayAddr)).status, HopStatus.PERMISSION_DENIED);
    assert.equal((await reserve(c, relayAddr)).status, HopStatus.OK);
    assert.equal(relay.p2p!.stats().reservations, 2);
    const metrics = await fetch(`http://127.0.0.1:${relay.metricsAddress!.port}/metrics`);
    assert.match(
      await metrics.text(),
      /^vaultmesh_relay_p2p_refusals_total\{reason="reservation_address"\} 1$/m,
    );
  },
});

Deno.test({
  name: "the relay refuses connections beyond the per-address cap while another address connects",
  fn: async () => {
    using dir = tempDir();
    await using server = await startNode(dir.path, { limits: { connectionsPerAddress: 3 } });
    const address = multiaddr(server.address);
    await using a = await createPeer([], { localAddress: "127.0.0.2" });
    await using b = await createPeer([], { localAddress: "127.0.0.3" });
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await a.dial(address, { force: true }));
    await assert.rejects(a.dial(address, { force: true, signal: AbortSignal.timeout(5000) }));
    await b.dial(address, { force: true });
    await waitFor("four connections", () => server.node.stats().connections === 4);
    assert.equal(server.node.stats().refusals.connection_address, 1);

    // A closed connection gives its slot back (after js-libp2p's 5 new connections a second).
    await held[0]!.close();
    await waitFor("three connections", () => server.node.stats().connections === 3);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await a.dial(address, { force: true });
    await waitFor("four connections again", () => server.node.stats().connections === 4);
  },
});

Deno.test({
  name: "the relay refuses a handshake beyond the per-address cap of connections still in theirs",
  fn: async () => {
    using dir = tempDir();
    await using server = await startNode(dir.path, { limits: { pendingPerAddress: 2 } });
    const port = Number(multiaddr(server.address).getComponents()[1]!.value);
    // Two sockets from 127.0.0.4 that never start their handshake.
    const silent = await Promise.all([0, 1].map(() =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.4" });
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      })
    ));
    await using a = await createPeer([], { localAddress: "127.0.0.4" });
    await using b = await createPeer([], { localAddress: "127.0.0.5" });
    const address = multiaddr(server.address);
    await assert.rejects(a.dial(address, { signal: AbortSignal.timeout(5000) }));
    await b.dial(address);
    assert.equal(server.node.stats().refusals.connection_pending_address, 1);
    for (const socket of silent) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await a.dial(address, { force: true });
    await waitFor("both peers connected", () => server.node.stats().connections === 2);
  },
});
