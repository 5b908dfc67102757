/**
 * Builds the mode `--mode` names, with its metrics around it: the one place that knows both
 * modes.
 *
 * @module
 */
import type { Mode } from "../config/mod.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ModeContext, RelayMode } from "./mode.ts";
import type { Database } from "../store/database.ts";
import { createStatelessMode } from "./stateless.ts";
import { createStoreAndForwardMode } from "./store_and_forward.ts";

/**
 * The mode called `name`, built from `context` and instrumented by `context.metrics` (commits
 * and expiries of store-and-forward included). Stateless mode takes no database.
 */
export function createMode(
  name: Mode,
  context: Omit<ModeContext, "database"> & { database: Database | undefined; metrics: Metrics },
): RelayMode {
  const { metrics, database } = context;
  if (name === "stateless") return metrics.instrument(createStatelessMode(context));
  if (!database) throw new TypeError("Store-and-forward mode needs a database");
  return metrics.instrument(createStoreAndForwardMode({ ...context, database }, {
    onCommit: (size, ms) => metrics.commit(size, ms),
    onExpired: (count) => metrics.expired(count),
  }));
}
