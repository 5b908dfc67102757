/**
 * Limits the js-libp2p 3 Circuit Relay server lacks, added around it: reservations per address
 * (an IPv4 address or an IPv6 /64), circuits per reserving peer, and releasing a reservation when
 * its peer disconnects (the library keeps it until its TTL runs out, holding a slot for a peer
 * that is gone).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CircuitRelayService } from "@libp2p/circuit-relay-v2";
import type { ConnectionGater, Libp2p, PeerId } from "@libp2p/interface";
import { LOG_CATEGORY } from "../log.ts";
import { peerAddressKey } from "./addresses.ts";
import type { Refusals } from "./refusals.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** The stop protocol: one open stop stream on the relay is one relayed circuit. */
export const STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";

/** What the limits are checked against, filled in once the node exists. */
export interface RelayView {
  node?: Libp2p;
  reservations?: CircuitRelayService["reservations"];
}

/** Limits enforced by {@linkcode relayConnectionGater}. */
export interface RelayLimits {
  /** Reservations from one IPv4 address or IPv6 /64. */
  readonly reservationsPerAddress: number;
  /** Relayed circuits open to one reserving peer. */
  readonly circuitsPerPeer: number;
}

/** Open relayed circuits that end at `peer` (all of them when `peer` is not given). */
export function countCircuits(node: Libp2p, peer?: PeerId): number {
  let circuits = 0;
  for (const connection of node.getConnections(peer)) {
    for (const stream of connection.streams) {
      if (stream.protocol === STOP_PROTOCOL && stream.status === "open") circuits++;
    }
  }
  return circuits;
}

/**
 * A connection gater that caps reservations per address and circuits per reserving peer; each
 * refusal is counted in `refusals`.
 */
export function relayConnectionGater(
  limits: RelayLimits,
  context: { view: RelayView; refusals?: Refusals },
): ConnectionGater {
  const { view, refusals } = context;
  return {
    denyInboundRelayReservation(source: PeerId): boolean {
      const { node, reservations } = view;
      if (!node || !reservations) return true;
      if (reservations.get(source)) return false; // a refresh takes no new slot
      const connection = node.getConnections(source)[0];
      if (!connection) return true;
      const key = peerAddressKey(connection.remoteAddr);
      let fromAddress = 0;
      for (const [, reservation] of reservations.entries()) {
        if (peerAddressKey(reservation.addr) === key) fromAddress++;
      }
      if (fromAddress < limits.reservationsPerAddress) return false;
      refusals?.count("reservation_address");
      log.debug("Reservation of {peer} refused: {count} already from its address", {
        peer: source.toString(),
        count: fromAddress,
      });
      return true;
    },
    denyOutboundRelayedConnection(source: PeerId, destination: PeerId): boolean {
      const { node } = view;
      if (!node) return true;
      const open = countCircuits(node, destination);
      if (open < limits.circuitsPerPeer) {
        log.debug("Circuit from {source} to {destination} opening", {
          source: source.toString(),
          destination: destination.toString(),
        });
        return false;
      }
      refusals?.count("circuit_peer");
      log.debug("Circuit to {destination} refused: {open} already open", {
        destination: destination.toString(),
        open,
      });
      return true;
    },
  };
}

/**
 * Drops `peer`'s reservation and stops its expiry timer, so a later reservation of the same peer
 * is not removed by the old timer firing.
 */
export function releaseReservation(view: RelayView, peer: PeerId): boolean {
  const reservation = view.reservations?.get(peer);
  if (!reservation) return false;
  reservation.signal.clear();
  view.reservations!.delete(peer);
  return true;
}
