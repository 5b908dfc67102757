/**
 * Builds the mode `--mode` names, with its metrics around it: the one place that knows both
 * modes.
 *
 * @module
 */
import type { Mode } from "../config/mod.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ModeContext, RelayMode } from "./mode.ts";
import { createStatelessMode } from "./stateless.ts";
import { createStoreAndForwardMode } from "./store_and_forward.ts";

/**
 * The mode called `name`, built from `context` and instrumented by `context.metrics` (commits
 * and expiries of store-and-forward included).
 */
export function createMode(name: Mode, context: ModeContext & { metrics: Metrics }): RelayMode {
  const { metrics } = context;
  if (name === "stateless") return metrics.instrument(createStatelessMode(context));
  return metrics.instrument(createStoreAndForwardMode(context, {
    onCommit: (size, ms) => metrics.commit(size, ms),
    onExpired: (count) => metrics.expired(count),
  }));
}
