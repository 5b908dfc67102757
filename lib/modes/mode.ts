/**
 * The seam between transports and the two relay modes. Both modes implement
 * {@linkcode RelayMode}; transports talk to this interface and never to SQL.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config, Mode } from "../config/mod.ts";
import type { Database } from "../store/database.ts";
import type { AckOutcome, StoreTotals, VaultUsage } from "../store/envelopes.ts";
import type { Hub } from "../live/hub.ts";

export type { AckOutcome, StoreTotals, VaultUsage };

/** What `/health` reports about buffering. */
export type Buffering = "enabled" | "disabled";

/** An envelope as devices receive it. `to` null means every other device of the vault. */
export interface Envelope {
  readonly vault: string;
  readonly seq: number;
  readonly from: string;
  readonly to: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly body: Uint8Array;
}

/** A device's request to send an envelope. */
export interface SendRequest {
  readonly vault: string;
  readonly from: string;
  readonly to: string | null;
  readonly body: Uint8Array;
  readonly idempotencyKey?: string | undefined;
}

/** What became of a send. */
export type SendOutcome =
  /** Store-and-forward: on disk. `recipients` is how many devices got it live. */
  | {
    readonly kind: "stored";
    readonly seq: number;
    readonly expiresAt: number;
    readonly recipients: number;
  }
  /** A retry of an earlier send with the same idempotency key. */
  | { readonly kind: "duplicate"; readonly seq: number }
  /** The vault's buffer cannot take it; nothing was stored or dropped. */
  | { readonly kind: "full"; readonly used: number; readonly limit: number }
  /** Stateless: handed to `recipients` connected devices, kept nowhere. */
  | { readonly kind: "delivered"; readonly seq: number; readonly recipients: number };

/** Which envelopes a device asks for. `after` defaults to its acknowledged cursor. */
export interface BacklogQuery {
  readonly vault: string;
  readonly device: string;
  readonly after?: number | undefined;
  readonly limit: number;
  readonly maxBytes: number;
}

/** A page of backlog. */
export interface BacklogPage {
  readonly envelopes: readonly Envelope[];
  /** The device's acknowledged cursor. */
  readonly acked: number;
  /** The highest seq assigned in the vault. */
  readonly latestSeq: number;
}

/** A relay mode: how envelopes are accepted, kept and delivered. */
export interface RelayMode {
  /** The `--mode` value this module implements. */
  readonly name: Mode;
  /** Whether envelopes are buffered for devices that are not connected. */
  readonly buffering: Buffering;
  /** Accepts an envelope from a device. */
  send(request: SendRequest): Promise<SendOutcome>;
  /** Envelopes waiting for a device, oldest first. */
  backlog(query: BacklogQuery): BacklogPage;
  /** Records that a device has everything up to `seq`. */
  ack(vault: string, device: string, seq: number): AckOutcome;
  /** Forgets everything about a vault's envelopes. Returns how many were deleted. */
  purge(vault: string): number;
  /** The vault's usage against its quota. */
  usage(vault: string): VaultUsage;
  /** Records that a device is active (it then counts for deletion). */
  touch(vault: string, device: string): void;
  /** Totals over all vaults. */
  totals(): StoreTotals;
  /** Finishes pending writes and stops background work. The database stays open. */
  close(): Promise<void>;
}

/** What a mode is built from. */
export interface ModeContext {
  readonly config: Config;
  readonly database: Database;
  readonly clock: Clock;
  /** Live delivery to connected devices. */
  readonly hub: Hub;
}
