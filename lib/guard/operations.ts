/**
 * The guard around the API: the connection gate's early refusal of bodies the memory budget
 * cannot hold, admission (header size, requests in flight, per-address rate) before routing, the
 * per-vault rate once a signature verified (for HTTP requests and socket control messages alike),
 * and the metrics that observe all of it.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/mod.ts";
import type { Limits } from "../limits.ts";
import { Admission, rateLimited } from "./admission.ts";
import type { RouterHooks } from "../http/router.ts";
import type { AuthHooks } from "../http/authenticate.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { TokenBuckets } from "./rate_limit.ts";
import { ByteBudget } from "./byte_budget.ts";
import { scavenging } from "./scavenge_pacer.ts";
import { addressKey, clientAddress } from "./client_address.ts";
import { LongPolls } from "./long_polls.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { declaredBodyLength } from "./tcp_proxy.ts";
import { errorAnswerBytes } from "../http/errors.ts";

/** Hooks and metrics the relay wires into its API and sockets. */
export interface Operations {
  readonly metrics: Metrics;
  readonly admission: Admission;
  readonly routerHooks: RouterHooks;
  readonly authHooks: AuthHooks;
  /** Takes one unit of the vault's rate; throws 429 `rate_limited` when it has none left. */
  readonly chargeVault: (vaultId: string) => void;
  /** Client bytes held in memory, shared by HTTP bodies and socket sends. */
  readonly memory: ByteBudget;
  /** Long polls waiting now. */
  readonly longPolls: LongPolls;
  /** Charges an address for a new vault; throws 429 `rate_limited` beyond its budget. */
  readonly chargeNewVault: (address: string) => void;
  /**
   * The connection gate's answer to a first request head that declares a body the memory budget
   * cannot hold now (503 `busy`, as raw bytes), or undefined to hand the request over.
   */
  readonly refuseHead: (head: Uint8Array) => Uint8Array | undefined;
}

/** Builds the guard for `config` and `limits`. */
export function createOperations(
  config: Config,
  options: {
    clock: Clock;
    metrics: Metrics;
    limits: Limits;
    /** Whether the memory valve refuses new work now (`memory_valve.ts`). */
    underPressure?: () => boolean;
  },
): Operations {
  const { metrics, clock, limits } = options;
  const admission = new Admission({
    ...limits.admission,
    perAddress: config.rateLimitIp,
    trustedProxies: config.trustProxy,
  }, { clock, onLimited: (limit) => metrics.limited(limit) });
  const vaultBuckets = config.rateLimitVault
    ? new TokenBuckets(config.rateLimitVault, { clock, capacity: limits.admission.rateBuckets })
    : undefined;
  const chargeVault = (vaultId: string) => {
    const taken = vaultBuckets?.take(vaultId);
    if (!taken || taken.allowed) return;
    metrics.limited("vault_rate");
    throw rateLimited("vault", taken.retryAfterSeconds);
  };
  const authHooks: AuthHooks = {
    verified: (caller) => chargeVault(caller.vaultId),
    failed: (code) => metrics.authFailure(code),
  };
  const memory = new ByteBudget(limits.memory.requestBytes, {
    perAddress: limits.memory.requestBytesPerAddress,
    underPressure: options.underPressure,
    onRefused: () => metrics.limited("memory"),
    // Request bodies and socket sends are the buffers clients make; the pacer frees them.
    onTaken: (bytes) => scavenging.made(bytes),
  });
  const routerHooks: RouterHooks = {
    admit: (request, info, kind) => admission.admit(request, info, kind),
    hold: (request, info) =>
      memory.hold(addressKey(clientAddress(request, info, config.trustProxy).hostname)),
    observe: (route, status) => metrics.request(route, status),
  };
  const newVaults = limits.newVaultsPerAddress
    ? new TokenBuckets(limits.newVaultsPerAddress, {
      clock,
      capacity: limits.admission.rateBuckets,
    })
    : undefined;
  const chargeNewVault = (address: string) => {
    const taken = newVaults?.take(address);
    if (!taken || taken.allowed) return;
    metrics.limited("new_vaults");
    const retryAfter = taken.retryAfterSeconds;
    throw new ProtocolError(
      "rate_limited",
      `This address created too many vaults lately; retry after ${retryAfter} s`,
      { retryAfter, details: { scope: "new_vaults", retry_after: retryAfter } },
    );
  };
  const longPolls = new LongPolls(limits.http.longPolls, () => metrics.limited("long_polls"));
  const refuseHead = (head: Uint8Array) => {
    const declared = declaredBodyLength(head);
    // A body too large for any route is the router's to refuse (413), not the budget's.
    if (!declared || declared > limits.http.maxEnvelopeBytes) return undefined;
    const refusal = memory.refusal(declared);
    if (!refusal) return undefined;
    metrics.limited("memory");
    return errorAnswerBytes(refusal);
  };
  return {
    metrics,
    admission,
    routerHooks,
    authHooks,
    chargeVault,
    memory,
    longPolls,
    chargeNewVault,
    refuseHead,
  };
}
