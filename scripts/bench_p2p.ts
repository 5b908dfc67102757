/**
 * p2p footprint and throughput: the relay's resident memory when idle with p2p off and on
 * (child processes started the same way, VmRSS from /proc), and the throughput of one relayed
 * circuit between two js-libp2p peers in this process, with the circuit limits raised.
 *
 * Usage: deno run -A scripts/bench_p2p.ts [--json] [--mib 64]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { type RelayProcess, spawnRelay } from "./relay_process.ts";

const SINK = "/vaultmesh-bench/sink/1.0.0";
const IDLE_MS = 3000;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function rssKib(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`Cannot read VmRSS of process ${pid}`);
  return Number(match[1]);
}

async function waitForLine(relay: RelayProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const line of relay.lines) {
      const match = pattern.exec(line);
      if (match) return match;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`The relay never printed ${pattern}:\n${relay.lines.join("\n")}`);
}

async function startRelay(dir: string, extra: string[]): Promise<RelayProcess> {
  return await spawnRelay([
    "--listen",
    "127.0.0.1:0",
    "--db",
    `${dir}/relay-${crypto.randomUUID()}.db`,
    ...extra,
  ]);
}

/** RSS after the relay has sat idle for a while, so start-up garbage is not counted. */
async function idleRssMib(dir: string, p2pPort: number): Promise<number> {
  await using relay = await startRelay(dir, ["--p2p-port", String(p2pPort)]);
  if (p2pPort !== 0) await waitForLine(relay, /p2p addr\s+(\S+)/);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const rss = rssKib(relay.child.pid) / 1024;
  await relay.stop();
  return rss;
}

async function peer(listen: string[]): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0", ...listen] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
}

/** Sends `bytes` over one relayed stream and returns MB/s until the receiver has all of it. */
async function circuitThroughput(dir: string, bytes: number): Promise<number> {
  await using relay = await startRelay(dir, [
    "--p2p-port",
    String(freePort()),
    "--p2p-circuit-bytes",
    String(bytes * 4),
    "--p2p-circuit-seconds",
    "3600",
  ]);
  const relayAddr = (await waitForLine(relay, /p2p addr\s+(\S+)/))[1]!;
  const a = await peer([`${relayAddr}/p2p-circuit`]);
  const b = await peer([]);
  try {
    await a.handle(SINK, async (stream) => {
      let received = 0;
      for await (const chunk of stream) received += chunk.byteLength;
      stream.send(new TextEncoder().encode(String(received)));
      await stream.close();
    }, { runOnLimitedConnection: true });
    const deadline = Date.now() + 10_000;
    while (!a.getMultiaddrs().some((m) => m.toString().includes("p2p-circuit"))) {
      if (Date.now() > deadline) throw new Error("Peer A got no reservation");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stream = await b.dialProtocol(
      multiaddr(`${relayAddr}/p2p-circuit/p2p/${a.peerId}`),
      SINK,
      { runOnLimitedConnection: true },
    );
    const chunk = new Uint8Array(64 * 1024).fill(1);
    const started = performance.now();
    for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
      if (!stream.send(chunk)) {
        await new Promise((resolve) => stream.addEventListener("drain", resolve, { once: true }));
      }
    }
    await stream.close();
    let answer = "";
    for await (const data of stream) answer += new TextDecoder().decode(data.subarray());
    const seconds = (performance.now() - started) / 1000;
    if (Number(answer) !== bytes) {
      throw new Error(`The receiver got ${answer} bytes of ${bytes}`);
    }
    return bytes / 1e6 / seconds;
  } finally {
    await a.stop();
    await b.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean" }, mib: { type: "string", default: "64" } },
    strict: true,
  });
  const mib = Number(values.mib);
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-p2p-" });
  try {
    const rssOff = await idleRssMib(dir, 0);
    const rssOn = await idleRssMib(dir, freePort());
    const mbPerSecond = await circuitThroughput(dir, mib * 1024 * 1024);
    const result = {
      idleRssMibP2pOff: Number(rssOff.toFixed(1)),
      idleRssMibP2pOn: Number(rssOn.toFixed(1)),
      idleRssMibP2pCost: Number((rssOn - rssOff).toFixed(1)),
      circuitMiB: mib,
      circuitMBPerSecond: Number(mbPerSecond.toFixed(1)),
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log("| measure | value |\n|---|---|");
      console.log(`| idle RSS, --p2p-port 0 | ${result.idleRssMibP2pOff} MiB |`);
      console.log(`| idle RSS, p2p on | ${result.idleRssMibP2pOn} MiB |`);
      console.log(`| cost of p2p | ${result.idleRssMibP2pCost} MiB |`);
      console.log(
        `| one relayed stream, ${mib} MiB | ${result.circuitMBPerSecond} MB/s |`,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  // After a large relayed transfer something of the stopped in-process libp2p peers still holds
  // the event loop open (the tests, which move little data, show no leak); end the script here.
  Deno.exit(0);
}
