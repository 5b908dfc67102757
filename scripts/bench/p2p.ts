/**
 * p2p: the relay's idle resident memory with p2p off and on (measured as in `footprint`, one
 * start each), and the throughput of one relayed circuit between two js-libp2p peers in this
 * process, with the relay's circuit limits raised for the transfer.
 *
 * @module
 */
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { type RelayProcess, spawnRelay } from "../relay_process.ts";
import { startOnce } from "./footprint.ts";
import { freePort } from "../relay_process.ts";
import { fixed, report } from "./_load.ts";

const SINK = "/vaultmesh-bench/sink/1.0.0";

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
  await using relay = await spawnRelay([
    "--listen",
    "127.0.0.1:0",
    "--db",
    `${dir}/relay-circuit.db`,
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

/** The scenario's figures. */
export interface P2pFigures {
  readonly idleRssMibP2pOff: number;
  readonly idleRssMibP2pOn: number;
  readonly idleRssMibP2pCost: number;
  readonly circuitMiB: number;
  readonly circuitMBPerSecond: number;
}

/**
 * Runs the scenario and prints its figures. `seconds` is how long each relay idles before its
 * RSS is read; `mib` how much goes through the circuit (default 64).
 */
export async function p2p(
  options: { seconds: number; json: boolean; mib?: number },
): Promise<P2pFigures> {
  const mib = options.mib ?? 64;
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-p2p-" });
  try {
    const off = await startOnce(dir, { p2p: false, idleSeconds: options.seconds });
    const on = await startOnce(dir, { p2p: true, idleSeconds: options.seconds });
    const mbPerSecond = await circuitThroughput(dir, mib * 1024 * 1024);
    const figures: P2pFigures = {
      idleRssMibP2pOff: off.rssBytes / 1024 / 1024,
      idleRssMibP2pOn: on.rssBytes / 1024 / 1024,
      idleRssMibP2pCost: (on.rssBytes - off.rssBytes) / 1024 / 1024,
      circuitMiB: mib,
      circuitMBPerSecond: mbPerSecond,
    };
    report({
      title: `p2p: idle RSS after ${options.seconds} s, one relayed stream of ${mib} MiB`,
      json: options.json,
      rows: [
        ["idle RSS MiB, --p2p-port 0", fixed(figures.idleRssMibP2pOff)],
        ["idle RSS MiB, p2p on", fixed(figures.idleRssMibP2pOn)],
        ["cost of p2p MiB", fixed(figures.idleRssMibP2pCost)],
        [`one relayed stream, ${mib} MiB, MB/s`, fixed(figures.circuitMBPerSecond)],
      ],
      figures: { scenario: "p2p", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
