/**
 * What a request must pass before it is routed: header size, requests in flight (in total and
 * per client address) and the per-address request rate. Runs before authentication, so it is
 * keyed only on the caller's address; the per-vault rate runs after the signature verified.
 *
 * `Deno.serve` offers no hook when a TCP connection opens, so "connections" are counted as
 * requests in flight (a long poll stays in flight while it waits). Headers are measured after
 * Deno parsed them; Deno's own HTTP layer bounds the raw header block before that.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { AdmissionLimits } from "../limits.ts";
import { addressKey, clientAddress, type IpNetwork } from "./client_address.ts";
import { type RateLimit, TokenBuckets } from "./rate_limit.ts";
import { ProtocolError } from "../protocol/errors.ts";

/** What {@linkcode Admission} enforces: the bounds of `limits.ts` plus the configured policy. */
export interface AdmissionPolicy extends AdmissionLimits {
  /** Requests per second per client address; `null` for none. */
  readonly perAddress: RateLimit | null;
  /** Proxies whose forwarded headers name the client. */
  readonly trustedProxies: readonly IpNetwork[];
}

/**
 * How a route is admitted: `counted` requests take a slot of the in-flight caps while they are
 * answered; `instant` ones (answered at once from memory, such as `/health`) are only
 * rate-limited, so requests that hold their slots (slow bodies, long polls) never make a live
 * relay look dead to its load balancer.
 */
export type RouteAdmission = "counted" | "instant";

/** Which limit turned a request away, as a metrics label. */
export type LimitName =
  | "address_rate"
  | "vault_rate"
  | "in_flight"
  | "address_in_flight"
  | "headers"
  | "memory"
  | "long_polls"
  | "new_vaults"
  | "header_timeout"
  | "evicted"
  | "refused"
  | "torn_down"
  | "accept_error"
  | "socket_in_flight"
  | "socket_message"
  | "socket_queue";

/** Called when a limit turns a request away. */
export type OnLimited = (limit: LimitName) => void;

/** A 429 `rate_limited` with `Retry-After`. */
export function rateLimited(scope: string, retryAfterSeconds: number): ProtocolError {
  return new ProtocolError(
    "rate_limited",
    `Too many requests from this ${scope}; retry after ${retryAfterSeconds} s`,
    { retryAfter: retryAfterSeconds, details: { scope, retry_after: retryAfterSeconds } },
  );
}

function headerBytes(headers: Headers): number {
  let total = 0;
  for (const [name, value] of headers) total += name.length + value.length + 4;
  return total;
}

/** Admits requests within the limits; each admitted request must be released once answered. */
export class Admission {
  readonly #buckets: TokenBuckets | undefined;
  readonly #inFlight = new Map<string, number>();
  #total = 0;

  constructor(
    readonly limits: AdmissionPolicy,
    options: { clock: Clock; onLimited?: OnLimited },
  ) {
    this.#buckets = limits.perAddress
      ? new TokenBuckets(limits.perAddress, { clock: options.clock, capacity: limits.rateBuckets })
      : undefined;
    this.#onLimited = options.onLimited ?? (() => {});
  }

  readonly #onLimited: OnLimited;

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#total;
  }

  /**
   * Admits `request` or throws the {@linkcode ProtocolError} that answers it (431, 503 or 429).
   * Returns the function to call once the request is answered. An `instant` request (answered
   * at once from memory) is checked for headers and rate but takes no in-flight slot.
   */
  admit(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    kind: RouteAdmission = "counted",
  ): () => void {
    this.#checkHeaders(request.headers);
    const key = addressKey(clientAddress(request, info, this.limits.trustedProxies).hostname);
    if (kind === "instant") {
      this.#chargeRate(key);
      return () => {};
    }
    // In-flight first: a request refused for it spends none of the address's rate.
    this.#checkInFlight(key);
    this.#chargeRate(key);
    return this.#takeSlot(key);
  }

  #chargeRate(key: string): void {
    const taken = this.#buckets?.take(key);
    if (taken && !taken.allowed) {
      this.#onLimited("address_rate");
      throw rateLimited("address", taken.retryAfterSeconds);
    }
  }

  /** Takes an in-flight slot for `key`; returns its release, safe to call more than once. */
  #takeSlot(key: string): () => void {
    this.#total++;
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = this.#inFlight.get(key)! - 1;
      if (left === 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
    };
  }

  #checkHeaders(headers: Headers): void {
    const size = headerBytes(headers);
    if (size <= this.limits.maxHeaderBytes) return;
    this.#onLimited("headers");
    throw new ProtocolError(
      "headers_too_large",
      `The request headers take ${size} bytes; the limit is ${this.limits.maxHeaderBytes}`,
      { details: { limit: this.limits.maxHeaderBytes } },
    );
  }

  #checkInFlight(key: string): void {
    if (this.#total >= this.limits.maxInFlight) {
      this.#onLimited("in_flight");
      throw new ProtocolError(
        "busy",
        `The relay is answering its limit of ${this.limits.maxInFlight} requests; retry shortly`,
        { retryAfter: 1 },
      );
    }
    if ((this.#inFlight.get(key) ?? 0) >= this.limits.maxInFlightPerAddress) {
      this.#onLimited("address_in_flight");
      throw new ProtocolError(
        "too_many_in_flight",
        `This address already has ${this.limits.maxInFlightPerAddress} requests in flight; ` +
          "wait for one to finish",
        { retryAfter: 1, details: { limit: this.limits.maxInFlightPerAddress } },
      );
    }
  }
}
