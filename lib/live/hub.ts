/**
 * Who is listening now: live subscribers (sockets, long polls) per vault, and fan-out of
 * envelopes to them. Knows nothing of HTTP or SQL.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";

/** A live listener for one device of a vault. */
export interface Subscriber {
  readonly device: string;
  /** Hands over an envelope; false if it could not be taken (then it does not count). */
  deliver(envelope: Envelope): boolean;
  /**
   * Resolves once this subscriber has room again (its unsent bytes are below its high-water
   * mark), or has been disconnected for falling behind. Absent means always ready.
   */
  settled?(): Promise<void>;
  /** Whether it has room now (below its high-water mark). Absent means always. */
  hasRoom?(): boolean;
  /** Sockets are told when other devices come and go; long polls are not. */
  onPresence?(event: PresenceEvent): void;
}

/** Another device of the vault connected its first socket, or closed its last. */
export interface PresenceEvent {
  readonly type: "join" | "leave";
  readonly device: string;
}

/** Live subscribers per vault. */
export class Hub {
  readonly #vaults = new Map<string, Set<Subscriber>>();
  /**
   * Per vault, the last envelope waiting for its readers' room. One entry per vault with a send
   * waiting, so it is bounded by the sends in flight (`maxSendsInFlight`, the memory budget).
   */
  readonly #turns = new Map<string, Promise<void>>();

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(vault: string, subscriber: Subscriber): () => void {
    let subscribers = this.#vaults.get(vault);
    if (!subscribers) {
      subscribers = new Set();
      this.#vaults.set(vault, subscribers);
    }
    const joined = subscriber.onPresence !== undefined &&
      !this.#hasSocket(subscribers, subscriber.device);
    subscribers.add(subscriber);
    if (joined) this.#announce(subscribers, { type: "join", device: subscriber.device });
    return () => {
      if (!subscribers.delete(subscriber)) return;
      if (subscriber.onPresence && !this.#hasSocket(subscribers, subscriber.device)) {
        this.#announce(subscribers, { type: "leave", device: subscriber.device });
      }
      if (subscribers.size === 0 && this.#vaults.get(vault) === subscribers) {
        this.#vaults.delete(vault);
      }
    };
  }

  #hasSocket(subscribers: Set<Subscriber>, device: string): boolean {
    for (const other of subscribers) {
      if (other.device === device && other.onPresence) return true;
    }
    return false;
  }

  #announce(subscribers: Set<Subscriber>, event: PresenceEvent): void {
    for (const other of subscribers) {
      if (other.device !== event.device) other.onPresence?.(event);
    }
  }

  /**
   * Delivers an envelope to every subscriber it is meant for: other devices of the vault, or
   * only the addressed one. Returns how many distinct devices took it.
   */
  publish(envelope: Envelope): number {
    const devices = new Set<string>();
    for (const subscriber of this.#vaults.get(envelope.vault) ?? []) {
      if (subscriber.device === envelope.from) continue;
      if (envelope.to !== null && envelope.to !== subscriber.device) continue;
      if (subscriber.deliver(envelope)) devices.add(subscriber.device);
    }
    return devices.size;
  }

  /**
   * Publishes `envelope` once every subscriber of its vault has room, after the envelopes handed
   * here before it; resolves with how many devices took it. Stateless senders publish this way:
   * a fast sender is slowed to its readers' pace, and a reader is never handed more than its
   * high-water mark plus one envelope, however many sends its vault has in flight.
   */
  publishWhenReady(envelope: Envelope): Promise<number> {
    const vault = envelope.vault;
    // The common case, at once: nothing queued before it and every reader has room.
    if (!this.#turns.has(vault) && this.#allHaveRoom(vault)) {
      return Promise.resolve(this.publish(envelope));
    }
    const published = (this.#turns.get(vault) ?? Promise.resolve())
      .then(() => this.settled(vault))
      .then(() => this.publish(envelope));
    const turn = published.then(() => {}, () => {});
    this.#turns.set(vault, turn);
    void turn.then(() => {
      if (this.#turns.get(vault) === turn) this.#turns.delete(vault);
    });
    return published;
  }

  #allHaveRoom(vault: string): boolean {
    for (const subscriber of this.#vaults.get(vault) ?? []) {
      if (subscriber.hasRoom?.() === false) return false;
    }
    return true;
  }

  /** Resolves once every subscriber of the vault has room for more (or was cut as too slow). */
  async settled(vault: string): Promise<void> {
    const waits = [...this.#vaults.get(vault) ?? []].map((subscriber) => subscriber.settled?.());
    await Promise.all(waits);
  }

  /** Live subscribers of a vault (sockets and long polls), in constant time. */
  subscriberCount(vault: string): number {
    return this.#vaults.get(vault)?.size ?? 0;
  }

  /** Open sockets of a vault. */
  socketCount(vault: string): number {
    let count = 0;
    for (const subscriber of this.#vaults.get(vault) ?? []) if (subscriber.onPresence) count++;
    return count;
  }

  /** Devices of a vault with at least one open socket. */
  devicesConnected(vault: string): Set<string> {
    const subscribers = [...this.#vaults.get(vault) ?? []].filter((s) => s.onPresence);
    return new Set(subscribers.map((subscriber) => subscriber.device));
  }

  /** Devices of a vault with at least one live subscriber. */
  devicesOnline(vault: string): Set<string> {
    return new Set([...this.#vaults.get(vault) ?? []].map((subscriber) => subscriber.device));
  }
}
