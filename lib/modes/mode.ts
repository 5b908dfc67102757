/**
 * The seam between transports and the two relay modes. Both modes implement
 * {@linkcode RelayMode}; transports talk to this interface and never to SQL.
 *
 * @module
 */
import type { Config, Mode } from "../config.ts";
import type { Database } from "../store/database.ts";

/** What `/health` reports about buffering. */
export type Buffering = "enabled" | "disabled";

/** A relay mode: how envelopes are accepted, kept and delivered. */
export interface RelayMode {
  /** The `--mode` value this module implements. */
  readonly name: Mode;
  /** Whether envelopes are buffered for devices that are not connected. */
  readonly buffering: Buffering;
  /** Finishes pending writes and stops background work. The database stays open. */
  close(): Promise<void>;
}

/** What a mode is built from. */
export interface ModeContext {
  readonly config: Config;
  readonly database: Database;
}
