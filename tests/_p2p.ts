/**
 * libp2p fixtures for the p2p tests: a free TCP port, client peers on 127.0.0.1, and a raw
 * Circuit Relay v2 hop client that shows exactly what the relay answers to a reservation.
 *
 * @module
 */
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { readFields } from "../lib/p2p/protobuf.ts";

/** A TCP port on 127.0.0.1 that was free a moment ago (the config reserves 0 for "off"). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A client peer on 127.0.0.1 that can listen through a relay (`/p2p-circuit`) and dial one. */
export async function createPeer(
  listen: string[] = [],
  privateKey?: PrivateKey,
): Promise<Libp2p & AsyncDisposable> {
  const node = await createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0", ...listen] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
  return Object.assign(node, { [Symbol.asyncDispose]: async () => await node.stop() });
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
