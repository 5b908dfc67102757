/**
 * The relay's libp2p node: TCP with Noise and Yamux, identify, ping, a Circuit Relay v2 server
 * with the limits of {@linkcode relayConnectionGater}, and the rendezvous server, every bound
 * taken from `P2pLimits` (`lib/limits.ts`). Loaded with a dynamic `import()` from `lib/relay.ts`
 * only when `--p2p-port` is not 0, so a relay without p2p never loads libp2p.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { circuitRelayServer } from "@libp2p/circuit-relay-v2";
import { multiaddr } from "@multiformats/multiaddr";
import type { Config } from "../config/mod.ts";
import { type P2pLimits, p2pLimits } from "../limits.ts";
import { LOG_CATEGORY } from "../log.ts";
import type { Database } from "../store/database.ts";
import { type Registrations, RendezvousStore } from "../store/rendezvous.ts";
import { MemoryRendezvousStore } from "../store/rendezvous_memory.ts";
import { listenMultiaddrs } from "./addresses.ts";
import { AddressConnections } from "./connection_limits.ts";
import { databaseIdentity, loadOrCreateIdentity } from "./identity.ts";
import { identityBeside } from "./key_file.ts";
import { type RefusalReason, Refusals } from "./refusals.ts";
import { RendezvousServer } from "./rendezvous.ts";
import {
  countCircuits,
  relayConnectionGater,
  type RelayView,
  releaseReservation,
} from "./relay_limits.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** Counts for the metrics endpoint. */
export interface P2pStats {
  /** Circuit Relay reservations held. */
  readonly reservations: number;
  /** Relayed circuits open. */
  readonly circuits: number;
  /** Live rendezvous registrations. */
  readonly registrations: number;
  /** Open libp2p connections. */
  readonly connections: number;
  /** What the node refused so far, by reason. */
  readonly refusals: Readonly<Partial<Record<RefusalReason, number>>>;
}

/** A running libp2p node owned by the relay. */
export interface P2pNode {
  /** The stable peer id (`12D3KooW…`). */
  readonly peerId: string;
  /** Full multiaddrs clients can use, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[];
  /** Current counts. */
  stats(): P2pStats;
  /** Stops listening, closes every connection and releases every reservation. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startP2pNode}. */
export interface P2pNodeOptions {
  readonly config: Config;
  /** The node's bounds; `p2pLimits(config)` when not given. */
  readonly limits?: P2pLimits;
  /**
   * The relay's database, which keeps the identity and the rendezvous registrations; without
   * one (stateless mode) the identity is kept in a key file beside `--db` and the registrations
   * in memory.
   */
  readonly database: Database | undefined;
  /** Milliseconds since the epoch for rendezvous expiry; tests pass a fake clock. */
  readonly now?: () => number;
}

/**
 * The node could not listen on `--p2p-port`. Its `name` is checked by the entry point, which
 * must not import this module (that would load libp2p with p2p off). Exit status 1.
 */
export class P2pListenError extends Error {
  override name = "P2pListenError";
}

function parseAnnounce(addresses: readonly string[]): string[] {
  return addresses.map((address) => {
    try {
      return multiaddr(address).toString();
    } catch (error) {
      throw new RangeError(
        `Cannot parse --p2p-announce address "${address}": ${(error as Error).message}`,
      );
    }
  });
}

/** The rendezvous registrations: a table of `database`, or in memory without one. */
function registrationsIn(
  database: Database | undefined,
  limits: P2pLimits,
  now: (() => number) | undefined,
): Registrations {
  const options = {
    maxTotal: limits.registrations,
    maxPerPeer: limits.registrationsPerPeer,
    maxPerAddress: limits.registrationsPerAddress,
    ...(now ? { now } : {}),
  };
  return database
    ? new RendezvousStore(database, options)
    : new MemoryRendezvousStore({ ...options, maxRecordBytes: limits.registrationMemoryBytes });
}

/**
 * Creates and starts the node on `config.p2pListen` and `config.p2pPort` (independent of the HTTP
 * `--listen`), with its identity kept in `database` (or a key file without one).
 *
 * @throws {RangeError} when an announce address is not a multiaddr.
 */
export async function startP2pNode(options: P2pNodeOptions): Promise<P2pNode> {
  const { config, database } = options;
  const limits = options.limits ?? p2pLimits(config);
  const announce = parseAnnounce(config.p2pAnnounce);
  const privateKey = await loadOrCreateIdentity(
    database ? databaseIdentity(database) : identityBeside(config.db),
  );
  const view: RelayView = {};
  const refusals = new Refusals();
  const perAddress = new AddressConnections(limits, refusals);
  const node = await createLibp2p({
    privateKey,
    start: false,
    addresses: {
      listen: listenMultiaddrs(config.p2pListen, config.p2pPort),
      announce,
    },
    // Sockets beyond the p2p share of the descriptor budget are closed at accept, before the
    // connection manager (which counts only finished handshakes against its maximum) sees them.
    transports: [tcp({ maxConnections: limits.maxConnections })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({
      maxInboundStreams: limits.inboundStreamsPerConnection,
      maxOutboundStreams: limits.outboundStreamsPerConnection,
      streamOptions: {
        maxStreamWindowSize: limits.streamReadBytes,
        maxReadBufferLength: limits.streamReadBytes,
        maxWriteBufferLength: limits.streamWriteBytes,
      },
    })],
    connectionManager: {
      maxConnections: limits.maxConnections,
      maxIncomingPendingConnections: limits.maxPendingConnections,
      inboundConnectionThreshold: limits.connectionsPerSecondPerIp,
      inboundUpgradeTimeout: limits.handshakeTimeoutMs,
    },
    connectionGater: {
      ...perAddress.gater(),
      ...relayConnectionGater(limits, { view, refusals }),
    },
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: limits.reservations,
          reservationTtl: limits.reservationTtlSeconds * 1000,
          // The library times circuits with this value in milliseconds (the option is ms even
          // though the wire field it also fills is in seconds), so convert from our seconds.
          defaultDurationLimit: limits.circuitSeconds * 1000,
          // Without a data limit the library pipes a circuit with no byte cap at all.
          defaultDataLimit: BigInt(limits.circuitBytes),
          applyDefaultLimit: true,
        },
      }),
    },
  });
  view.node = node;
  view.reservations = node.services.relay.reservations;
  node.addEventListener("peer:connect", (event) => {
    log.debug("Peer {peer} connected", { peer: event.detail.toString() });
  });
  node.addEventListener("peer:disconnect", (event) => {
    const released = releaseReservation(view, event.detail);
    log.debug("Peer {peer} disconnected{released}", {
      peer: event.detail.toString(),
      released: released ? ", reservation released" : "",
    });
  });
  node.services.relay.addEventListener("relay:reservation", () => {
    log.debug("Reservation granted; {count} held", { count: view.reservations?.size ?? 0 });
  });
  const rendezvous = new RendezvousServer({
    store: registrationsIn(database, limits, options.now),
    limits,
    refusals,
  });
  await rendezvous.start(node);
  try {
    await node.start();
  } catch (error) {
    try {
      await node.stop();
    } catch {
      // Already failing to start; the listen error below is the one worth reporting.
    }
    const reason = (error as Error).message.split("\n").find((line) => /EADDR|EACCES/.test(line));
    throw new P2pListenError(
      `Cannot listen for libp2p on port ${config.p2pPort}: ${
        reason?.trim() ?? (error as Error).message
      }`,
    );
  }
  log.info("libp2p relay started as {peerId}", { peerId: node.peerId.toString() });

  let stopping: Promise<void> | undefined;
  return {
    peerId: node.peerId.toString(),
    multiaddrs: () => node.getMultiaddrs().map((address) => address.toString()),
    stats: () => ({
      reservations: view.reservations?.size ?? 0,
      circuits: countCircuits(node),
      registrations: rendezvous.count(),
      connections: node.getConnections().length,
      refusals: refusals.snapshot(),
    }),
    stop: () => {
      stopping ??= (async () => {
        // Expiry timers of reservations outlive the node otherwise.
        for (const peer of [...node.services.relay.reservations.keys()]) {
          releaseReservation(view, peer);
        }
        await node.stop();
        log.info("libp2p relay stopped");
      })();
      return stopping;
    },
  };
}
