/**
 * Store-and-forward mode: envelopes persist in SQLite until every device has acknowledged them,
 * their TTL ends or the vault is purged.
 *
 * @module
 */
import type { ModeContext, RelayMode } from "./mode.ts";

/** Creates the store-and-forward mode on the relay's database. */
export function createStoreAndForwardMode(_context: ModeContext): RelayMode {
  return {
    name: "store-and-forward",
    buffering: "enabled",
    close: () => Promise.resolve(),
  };
}
