/**
 * The seam between transports and the two relay modes. Both modes implement
 * {@linkcode RelayMode}; transports talk to this interface and never to SQL. Every method is
 * asynchronous, so a mode may move its storage off the event loop without touching callers.
 * Refusals are thrown as `ProtocolError`s (`buffer_full`, `storage_full`, `ack_beyond_latest`).
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Mode } from "../config/mod.ts";
import type { Database } from "../store/database.ts";
import type { Hub } from "../live/hub.ts";
import type { ModeLimits } from "../limits.ts";
import type {
  AckOutcome,
  BacklogPage,
  BacklogQuery,
  SendOutcome,
  SendRequest,
  StoreTotals,
  VaultUsage,
} from "../protocol/envelope.ts";

/** What `/health` reports about buffering. */
export type Buffering = "enabled" | "disabled";

/** A relay mode: how envelopes are accepted, kept and delivered. */
export interface RelayMode {
  /** The `--mode` value this module implements. */
  readonly name: Mode;
  /** Whether envelopes are buffered for devices that are not connected. */
  readonly buffering: Buffering;
  /** Accepts an envelope from a device. */
  send(request: SendRequest): Promise<SendOutcome>;
  /** Envelopes waiting for a device, oldest first. */
  backlog(query: BacklogQuery): Promise<BacklogPage>;
  /** Records that a device has everything up to `seq`. */
  ack(vault: string, device: string, seq: number): Promise<AckOutcome>;
  /** Forgets everything about a vault's envelopes. Resolves with how many were deleted. */
  purge(vault: string): Promise<number>;
  /** The vault's usage against its quota. */
  usage(vault: string): Promise<VaultUsage>;
  /** Records that a device is active (it then counts for deletion). */
  touch(vault: string, device: string): Promise<void>;
  /** Totals over all vaults (read by metrics at scrape time). */
  totals(): StoreTotals;
  /** Finishes pending writes and stops background work. The database stays open. */
  close(): Promise<void>;
}

/** What a mode is built from: only what it uses. */
export interface ModeContext {
  readonly database: Database;
  readonly clock: Clock;
  /** Live delivery to connected devices. */
  readonly hub: Hub;
  readonly limits: ModeLimits;
  /**
   * Charges a client address for creating a vault (its first stored envelope); throws the
   * refusal (429 `rate_limited`) when the address has created too many lately.
   */
  readonly chargeNewVault?: (origin: string) => void;
}
