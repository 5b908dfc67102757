/**
 * The operational layer around the API: admission (header size, requests in flight, per-address
 * rate), the per-vault rate after authentication, and the metrics that observe all of it.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { Admission, rateLimited } from "./http/admission.ts";
import type { RouterHooks } from "./http/router.ts";
import type { AuthHooks } from "./http/authenticate.ts";
import { RelayMetrics } from "./metrics.ts";
import type { StoreTotals } from "./modes/mode.ts";
import type { P2pStats } from "./p2p/node.ts";
import { TokenBuckets } from "./rate_limit.ts";

/** What the operational layer reads from the running relay at scrape time. */
export interface OperationsSources {
  totals(): StoreTotals | undefined;
  p2p(): P2pStats | undefined;
}

/** Hooks and metrics the relay wires into its API and mode. */
export interface Operations {
  readonly metrics: RelayMetrics;
  readonly admission: Admission;
  readonly routerHooks: RouterHooks;
  readonly authHooks: AuthHooks;
}

/** Builds the limits and metrics for `config`. */
export function createOperations(
  config: Config,
  options: { clock: Clock; sources: OperationsSources },
): Operations {
  const holder: { admission?: Admission } = {};
  const metrics = new RelayMetrics({
    ...options.sources,
    inFlight: () => holder.admission?.inFlight ?? 0,
  });
  const admission = holder.admission = new Admission({
    perAddress: config.rateLimitIp,
    maxInFlight: config.maxConnections,
    maxInFlightPerAddress: config.maxConnectionsPerIp,
    maxHeaderBytes: config.maxHeaderBytes,
    trustedProxies: config.trustProxy,
  }, { clock: options.clock, onLimited: (limit) => metrics.limited(limit) });
  const vaultBuckets = config.rateLimitVault
    ? new TokenBuckets(config.rateLimitVault, options.clock)
    : undefined;
  const authHooks: AuthHooks = {
    verified(caller) {
      const taken = vaultBuckets?.take(caller.vaultId);
      if (!taken || taken.allowed) return;
      metrics.limited("vault_rate");
      throw rateLimited("vault", taken.retryAfterSeconds);
    },
    failed: (code) => metrics.authFailure(code),
  };
  const routerHooks: RouterHooks = {
    admit: (request, info) => admission.admit(request, info),
    observe: (route, status) => metrics.request(route, status),
  };
  return { metrics, admission, routerHooks, authHooks };
}
