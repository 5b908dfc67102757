/**
 * The connection gate's table of client connections: by state (waiting for a request head,
 * unauthenticated socket), by client address, and whom to drop when the descriptor budget is
 * reached. Knows nothing of sockets or descriptors.
 *
 * @module
 */

/** What the table needs of a connection. */
export interface TableEntry {
  /** The client's address as per-address limits count it (an IPv6 /64 is one). */
  readonly address: string;
}

/** Open connections, oldest first in every set. */
export class ConnectionTable<C extends TableEntry> {
  /** Connections waiting for a request head, in deadline order (see {@linkcode wait}). */
  readonly waiting = new Set<C>();
  /** Upgraded sockets that have not authenticated yet. */
  readonly unauthenticated = new Set<C>();
  readonly #open = new Set<C>();
  readonly #byAddress = new Map<string, Set<C>>();

  /** Open connections. */
  get size(): number {
    return this.#open.size;
  }

  /** Every open connection, oldest first. */
  all(): C[] {
    return [...this.#open];
  }

  /** Adds a new connection, waiting for its first request head. */
  add(connection: C): void {
    this.#open.add(connection);
    let sameAddress = this.#byAddress.get(connection.address);
    if (!sameAddress) {
      sameAddress = new Set();
      this.#byAddress.set(connection.address, sameAddress);
    }
    sameAddress.add(connection);
    this.waiting.add(connection);
  }

  /** Moves a connection to the end of the waiting order (its deadline is now the latest). */
  wait(connection: C): void {
    this.waiting.delete(connection);
    this.waiting.add(connection);
  }

  /** Forgets a closed connection. */
  remove(connection: C): void {
    this.waiting.delete(connection);
    this.unauthenticated.delete(connection);
    this.#open.delete(connection);
    const sameAddress = this.#byAddress.get(connection.address);
    sameAddress?.delete(connection);
    if (sameAddress?.size === 0) this.#byAddress.delete(connection.address);
  }

  /**
   * Whom to drop to make room for a connection from `address` (`newcomer`: one not in the
   * table yet). If another address holds more connections than `address` would, the one holding
   * the most gives way, so that a flood of connections, slow bodies or sockets from a few
   * addresses does not lock anyone else out: its oldest connection waiting for a request head,
   * else its oldest unauthenticated socket, else its oldest. Otherwise a connection waiting for
   * a request head, else an unauthenticated socket, of the address holding the most among those
   * holding at least as many as `address` does (its own included), the oldest of that address:
   * so when many addresses hold a few each, a newcomer takes from the most crowded, not from a
   * lone client that just connected. Never a request in flight or an authenticated socket.
   * `undefined` when there is none.
   */
  victim(address: string, newcomer: boolean): C | undefined {
    const held = this.#byAddress.get(address)?.size ?? 0;
    const greediest = this.#greediestOther(address, held + (newcomer ? 1 : 0));
    if (greediest) {
      const candidates = [...greediest];
      return candidates.find((c) => this.waiting.has(c)) ??
        candidates.find((c) => this.unauthenticated.has(c)) ?? candidates[0];
    }
    return this.#mostCrowded(this.waiting, held) ?? this.#mostCrowded(this.unauthenticated, held);
  }

  /**
   * Of `connections`, one whose address holds the most connections, at least `count`; the
   * oldest such.
   */
  #mostCrowded(connections: Set<C>, count: number): C | undefined {
    let found: C | undefined;
    let most = count - 1;
    for (const connection of connections) {
      const holds = this.#byAddress.get(connection.address)?.size ?? 0;
      if (holds > most) {
        found = connection;
        most = holds;
      }
    }
    return found;
  }

  /** The connections of the address holding the most, if more than `ownCount`. */
  #greediestOther(address: string, ownCount: number): Set<C> | undefined {
    const own = this.#byAddress.get(address);
    let greediest: Set<C> | undefined;
    for (const connections of this.#byAddress.values()) {
      if (connections !== own && connections.size > (greediest?.size ?? 0)) {
        greediest = connections;
      }
    }
    return greediest && greediest.size > ownCount ? greediest : undefined;
  }
}
