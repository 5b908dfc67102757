/**
 * libp2p fixtures for the p2p tests: a free TCP port, client peers on loopback, and a raw
 * Circuit Relay v2 hop client that shows exactly what the relay answers to a reservation.
 *
 * @module
 */
import { createLibp2p } from "libp2p";
import { tcp, type TCPSocketOptions } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { type Config, defaultConfig } from "../lib/config/mod.ts";
import { type P2pLimits, p2pLimits } from "../lib/limits.ts";
import { type P2pNode, startP2pNode } from "../lib/p2p/node.ts";
import { readFields } from "../lib/p2p/protobuf.ts";
import { Database } from "../lib/store/database.ts";
import { freePort } from "../scripts/relay_process.ts";

/** Options of {@linkcode createPeer}. */
export interface PeerOptions {
  /** The peer's key; a new one when not given. */
  readonly privateKey?: PrivateKey;
  /**
   * The loopback address the peer dials from (`127.0.0.2` and so on are other addresses to the
   * relay); 127.0.0.1 when not given.
   */
  readonly localAddress?: string;
}

/** A client peer on 127.0.0.1 that can listen through a relay (`/p2p-circuit`) and dial one. */
export async function createPeer(
  listen: string[] = [],
  options: PeerOptions = {},
): Promise<Libp2p & AsyncDisposable> {
  const { privateKey, localAddress } = options;
  const node = await createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0", ...listen] },
    transports: [
      // node:net's `localAddress`: @libp2p/tcp passes it through, though its type omits it.
      tcp(localAddress ? { dialOpts: { localAddress } as TCPSocketOptions } : {}),
      circuitRelayTransport(),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Its own connection manager must not be what limits a test's connections.
    connectionManager: { maxConnections: 1000 },
    services: { identify: identify() },
  });
  return Object.assign(node, { [Symbol.asyncDispose]: async () => await node.stop() });
}

/** What {@linkcode startNode} changes from the defaults. */
export interface NodeOptions {
  /** Flags that differ from their defaults. */
  readonly config?: Partial<Config>;
  /** Bounds that differ from those `config` gives (fixed ones included). */
  readonly limits?: Partial<P2pLimits>;
}

/**
 * A libp2p node of the relay on 127.0.0.1 alone (no HTTP), on a real database in `dir`, with a
 * clock the test moves. Disposing stops it and closes the database.
 */
export async function startNode(
  dir: string,
  options: NodeOptions = {},
): Promise<{ node: P2pNode; clock: { now: number }; address: string } & AsyncDisposable> {
  const database = Database.open(`${dir}/relay.db`);
  const clock = { now: Date.UTC(2026, 0, 1) };
  const config = defaultConfig({
    listen: { hostname: "127.0.0.1", port: 0 },
    db: `${dir}/relay.db`,
    p2pPort: freePort(),
    p2pListen: "127.0.0.1",
    ...options.config,
  });
  const limits = { ...p2pLimits(config), ...options.limits };
  const node = await startP2pNode({ config, limits, database, now: () => clock.now });
  return {
    node,
    clock,
    address: node.multiaddrs()[0]!,
    [Symbol.asyncDispose]: async () => {
      await node.stop();
      database.close();
    },
  };
}

/** Polls `condition` every 20 ms until it holds, failing after `ms`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Circuit Relay v2 status codes (HopMessage.Status). */
export const HopStatus = {
  OK: 100,
  RESERVATION_REFUSED: 200,
  PERMISSION_DENIED: 202,
} as const;

/** What the relay answered to a RESERVE: status and the limits it reported. */
export interface ReserveAnswer {
  status: number;
  limitDuration?: number;
  limitData?: number;
}

/** Sends one hop RESERVE from `peer` to the relay at `relayAddr` and decodes the STATUS answer. */
export async function reserve(peer: Libp2p, relayAddr: string): Promise<ReserveAnswer> {
  const stream = await peer.dialProtocol(
    multiaddr(relayAddr),
    "/libp2p/circuit/relay/0.2.0/hop",
  );
  const frames = lpStream(stream);
  // HopMessage { type: RESERVE (0) }
  await frames.write(Uint8Array.of(0x08, 0x00));
  const answer: ReserveAnswer = { status: 0 };
  for (const field of readFields((await frames.read()).subarray())) {
    if (field.field === 5 && field.kind === "varint") answer.status = Number(field.value);
    if (field.field === 4 && field.kind === "bytes") {
      for (const limit of readFields(field.value)) {
        if (limit.field === 1 && limit.kind === "varint") {
          answer.limitDuration = Number(limit.value);
        }
        if (limit.field === 2 && limit.kind === "varint") answer.limitData = Number(limit.value);
      }
    }
  }
  await stream.close().catch(() => {});
  return answer;
}
