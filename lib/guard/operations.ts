/**
 * The operational layer around the API: admission (header size, requests in flight, per-address
 * rate), the per-vault rate after authentication, and the metrics that observe all of it.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/mod.ts";
import { Admission, rateLimited } from "./admission.ts";
import type { RouterHooks } from "../http/router.ts";
import type { AuthHooks } from "../http/authenticate.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { TokenBuckets } from "./rate_limit.ts";

/** Hooks and metrics the relay wires into its API and mode. */
export interface Operations {
  readonly metrics: Metrics;
  readonly admission: Admission;
  readonly routerHooks: RouterHooks;
  readonly authHooks: AuthHooks;
}

/** Builds the limits and metrics for `config`. */
export function createOperations(
  config: Config,
  options: { clock: Clock; metrics: Metrics },
): Operations {
  const { metrics } = options;
  const admission = new Admission({
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
