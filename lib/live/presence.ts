/**
 * Presence: each device publishes a small opaque blob (its encrypted direct-connection
 * candidates) with a TTL, and lists the others'. Kept in memory only, in both modes, bounded in
 * total, per vault and per client address, so no one party fills it for everyone. Expired blobs
 * leave through a time-ordered heap, so a refusal costs O(1) and expiry O(log n) per blob.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { PresenceLimits } from "../limits.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { validateSize } from "../protocol/validate.ts";
import { ExpiryHeap } from "./expiry_heap.ts";

/** A device's published presence. */
export interface PresenceEntry {
  readonly device: string;
  readonly blob: Uint8Array;
  readonly publishedAt: number;
  readonly expiresAt: number;
}

/** A blob to publish. */
export interface Publication {
  readonly vault: string;
  readonly device: string;
  readonly blob: Uint8Array;
  readonly ttlSeconds: number;
  /** The publisher's address key, charged for the blob while it lives. */
  readonly address: string;
}

/** An entry as the board keeps it: where it belongs and who is charged for it. */
interface Held extends PresenceEntry {
  readonly vault: string;
  readonly address: string;
}

function full(scope: string, limit: number): ProtocolError {
  return new ProtocolError(
    "presence_full",
    `The relay holds its limit of ${limit} presence blobs${scope}; retry later`,
    { retryAfter: 60, details: { limit } },
  );
}

/** Presence blobs per vault. */
export class PresenceBoard {
  readonly #vaults = new Map<string, Map<string, Held>>();
  readonly #byAddress = new Map<string, number>();
  readonly #expiry = new ExpiryHeap<Held>();
  #count = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: PresenceLimits,
  ) {}

  /** Blobs held. */
  get size(): number {
    return this.#count;
  }

  /**
   * Publishes (or replaces) a device's blob for `ttlSeconds`.
   *
   * @throws {ProtocolError} `too_large` for a blob above the limit, `presence_full` when the
   * board, the vault or the publisher's address holds its limit of blobs.
   */
  publish(publication: Publication): PresenceEntry {
    const { vault, device, blob, ttlSeconds, address } = publication;
    validateSize(blob.byteLength, this.limits.maxBlobBytes, "The presence blob");
    const now = this.clock.now();
    this.#expire(now);
    const devices = this.#vaults.get(vault);
    const previous = devices?.get(device);
    if (!previous) this.#checkRoom({ vaultSize: devices?.size ?? 0, address });
    if (previous) this.#forget(previous);
    const entry: Held = {
      vault,
      device,
      blob,
      address,
      publishedAt: now,
      expiresAt: now + ttlSeconds * 1000,
    };
    this.#hold(entry);
    return { device, blob, publishedAt: entry.publishedAt, expiresAt: entry.expiresAt };
  }

  #checkRoom(room: { vaultSize: number; address: string }): void {
    const { maxEntries, maxPerVault, maxPerAddress } = this.limits;
    if (room.vaultSize >= maxPerVault) throw full(" for this vault", maxPerVault);
    if ((this.#byAddress.get(room.address) ?? 0) >= maxPerAddress) {
      throw full(" from this address", maxPerAddress);
    }
    if (this.#count >= maxEntries) throw full("", maxEntries);
  }

  /** The live entries of a vault. */
  list(vault: string): PresenceEntry[] {
    this.#expire(this.clock.now());
    return [...this.#vaults.get(vault)?.values() ?? []].map((entry) => ({
      device: entry.device,
      blob: entry.blob,
      publishedAt: entry.publishedAt,
      expiresAt: entry.expiresAt,
    }));
  }

  /** Forgets a vault's presence (on purge). */
  clear(vault: string): void {
    for (const entry of [...this.#vaults.get(vault)?.values() ?? []]) this.#forget(entry);
  }

  #hold(entry: Held): void {
    let devices = this.#vaults.get(entry.vault);
    if (!devices) {
      devices = new Map();
      this.#vaults.set(entry.vault, devices);
    }
    devices.set(entry.device, entry);
    this.#byAddress.set(entry.address, (this.#byAddress.get(entry.address) ?? 0) + 1);
    this.#count++;
    this.#expiry.push(entry);
    // Replaced blobs stay in the heap until they expire; compact when they outnumber the live.
    if (this.#expiry.size > 2 * this.#count + 1024) {
      this.#expiry.retain((held) => this.#vaults.get(held.vault)?.get(held.device) === held);
    }
  }

  /** Removes an entry that is still current; the heap drops its node when it comes up. */
  #forget(entry: Held): void {
    const devices = this.#vaults.get(entry.vault);
    if (devices?.get(entry.device) !== entry) return;
    devices.delete(entry.device);
    if (devices.size === 0) this.#vaults.delete(entry.vault);
    const left = this.#byAddress.get(entry.address)! - 1;
    if (left === 0) this.#byAddress.delete(entry.address);
    else this.#byAddress.set(entry.address, left);
    this.#count--;
  }

  #expire(now: number): void {
    for (const entry of this.#expiry.popExpired(now)) this.#forget(entry);
  }
}
