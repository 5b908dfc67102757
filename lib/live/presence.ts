/**
 * Presence: each device publishes a small opaque blob (its encrypted direct-connection
 * candidates) with a TTL, and lists the others'. Kept in memory only, in both modes.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { PresenceLimits } from "../limits.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { validateSize } from "../protocol/validate.ts";

/** A device's published presence. */
export interface PresenceEntry {
  readonly device: string;
  readonly blob: Uint8Array;
  readonly publishedAt: number;
  readonly expiresAt: number;
}

/** Presence blobs per vault, bounded in count. */
export class PresenceBoard {
  readonly #vaults = new Map<string, Map<string, PresenceEntry>>();
  #count = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: PresenceLimits,
  ) {}

  /**
   * Publishes (or replaces) a device's blob for `ttlSeconds`.
   *
   * @throws {ProtocolError} `too_large` for a blob above the limit, `presence_full` when the
   * board holds its limit of blobs.
   */
  publish(
    vault: string,
    device: string,
    blob: Uint8Array,
    ttlSeconds: number,
  ): PresenceEntry {
    validateSize(blob.byteLength, this.limits.maxBlobBytes, "The presence blob");
    this.#sweep(vault);
    let devices = this.#vaults.get(vault);
    if (!devices?.has(device) && this.#count >= this.limits.maxEntries) {
      // Expired blobs of idle vaults still count until swept; sweep them all before refusing.
      for (const other of [...this.#vaults.keys()]) this.#sweep(other);
      devices = this.#vaults.get(vault);
      if (this.#count >= this.limits.maxEntries) {
        throw new ProtocolError("presence_full", "The relay holds too many presence blobs", {
          retryAfter: 60,
        });
      }
    }
    if (!devices) {
      devices = new Map();
      this.#vaults.set(vault, devices);
    }
    const now = this.clock.now();
    const entry = { device, blob, publishedAt: now, expiresAt: now + ttlSeconds * 1000 };
    if (!devices.has(device)) this.#count++;
    devices.set(device, entry);
    return entry;
  }

  /** The live entries of a vault. */
  list(vault: string): PresenceEntry[] {
    this.#sweep(vault);
    return [...this.#vaults.get(vault)?.values() ?? []];
  }

  /** Forgets a vault's presence (on purge). */
  clear(vault: string): void {
    this.#count -= this.#vaults.get(vault)?.size ?? 0;
    this.#vaults.delete(vault);
  }

  #sweep(vault: string): void {
    const devices = this.#vaults.get(vault);
    if (!devices) return;
    const now = this.clock.now();
    for (const [device, entry] of devices) {
      if (entry.expiresAt <= now) {
        devices.delete(device);
        this.#count--;
      }
    }
    if (devices.size === 0) this.#vaults.delete(vault);
  }
}
