/**
 * Stateless mode: envelopes go only to devices connected now and never touch disk.
 *
 * @module
 */
import type { ModeContext, RelayMode } from "./mode.ts";

/** Creates the stateless mode. The database holds only the relay's own state. */
export function createStatelessMode(_context: ModeContext): RelayMode {
  return {
    name: "stateless",
    buffering: "disabled",
    close: () => Promise.resolve(),
  };
}
