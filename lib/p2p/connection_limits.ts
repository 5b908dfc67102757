/**
 * Per-address caps on inbound libp2p connections, which js-libp2p 3 lacks: its connection
 * manager caps connections and handshakes in all, and new connections per second per IP, but one
 * address may hold every slot. Here a connection counts against its address (an IPv4 address or
 * an IPv6 /64) from the moment its socket is accepted until the socket closes, so connections
 * still in their handshake count too, and no interleaving of handshakes can overshoot the cap.
 *
 * @module
 */
import type { ConnectionGater, MultiaddrConnection } from "@libp2p/interface";
import { peerAddressKey } from "./addresses.ts";
import type { Refusals } from "./refusals.ts";

/** The caps {@linkcode AddressConnections} enforces. */
export interface AddressConnectionLimits {
  /** Connections open or in their handshake from one address. */
  readonly connectionsPerAddress: number;
  /** Connections still in their handshake from one address. */
  readonly pendingPerAddress: number;
}

interface Held {
  open: number;
  pending: number;
}

/** Connections held per address, and the gater checks that cap them. */
export class AddressConnections {
  readonly #limits: AddressConnectionLimits;
  readonly #refusals: Refusals | undefined;
  readonly #byAddress = new Map<string, Held>();
  readonly #pending = new WeakMap<MultiaddrConnection, Held>();

  constructor(limits: AddressConnectionLimits, refusals?: Refusals) {
    this.#limits = limits;
    this.#refusals = refusals;
  }

  /** Connections open or in their handshake from the address `key` counts under. */
  heldBy(key: string): { open: number; pending: number } {
    const held = this.#byAddress.get(key);
    return { open: held?.open ?? 0, pending: held?.pending ?? 0 };
  }

  /** Addresses holding at least one connection (the map's size, bounded by connections). */
  get addresses(): number {
    return this.#byAddress.size;
  }

  /** The connection gater hooks: admit at accept, end the handshake count once upgraded. */
  gater(): Pick<ConnectionGater, "denyInboundConnection" | "denyInboundUpgradedConnection"> {
    return {
      denyInboundConnection: (maConn) => !this.#admit(maConn),
      denyInboundUpgradedConnection: (_peer, maConn) => {
        this.#handshakeDone(maConn);
        return false;
      },
    };
  }

  #admit(maConn: MultiaddrConnection): boolean {
    if (maConn.status !== "open") return false;
    const key = peerAddressKey(maConn.remoteAddr);
    const held = this.#byAddress.get(key) ?? { open: 0, pending: 0 };
    if (held.open >= this.#limits.connectionsPerAddress) {
      this.#refusals?.count("connection_address");
      return false;
    }
    if (held.pending >= this.#limits.pendingPerAddress) {
      this.#refusals?.count("connection_pending_address");
      return false;
    }
    held.open++;
    held.pending++;
    this.#byAddress.set(key, held);
    this.#pending.set(maConn, held);
    maConn.addEventListener("close", () => {
      this.#handshakeDone(maConn);
      held.open--;
      if (held.open === 0) this.#byAddress.delete(key);
    }, { once: true });
    return true;
  }

  #handshakeDone(maConn: MultiaddrConnection): void {
    const held = this.#pending.get(maConn);
    if (!held) return;
    this.#pending.delete(maConn);
    held.pending--;
  }
}
