/**
 * Who is listening now: live subscribers (sockets, long polls) per vault, and fan-out of
 * envelopes to them. Knows nothing of HTTP or SQL.
 *
 * @module
 */
import type { Envelope } from "./modes/mode.ts";

/** A live listener for one device of a vault. */
export interface Subscriber {
  readonly device: string;
  /** Hands over an envelope; false if it could not be taken (then it does not count). */
  deliver(envelope: Envelope): boolean;
}

/** Live subscribers per vault. */
export class Hub {
  readonly #vaults = new Map<string, Set<Subscriber>>();

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(vault: string, subscriber: Subscriber): () => void {
    let subscribers = this.#vaults.get(vault);
    if (!subscribers) {
      subscribers = new Set();
      this.#vaults.set(vault, subscribers);
    }
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0 && this.#vaults.get(vault) === subscribers) {
        this.#vaults.delete(vault);
      }
    };
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

  /** Devices of a vault with at least one live subscriber. */
  devicesOnline(vault: string): Set<string> {
    return new Set([...this.#vaults.get(vault) ?? []].map((subscriber) => subscriber.device));
  }

  /** Number of live subscribers over all vaults. */
  get size(): number {
    let total = 0;
    for (const subscribers of this.#vaults.values()) total += subscribers.size;
    return total;
  }
}
