import assert from "node:assert/strict";
import { assertRefused } from "../protocol/_assert_refused.ts";
import { Admission, type AdmissionPolicy, type LimitName, rateLimited } from "./admission.ts";
import { parseTrustedProxies } from "./client_address.ts";
import { ManualClock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";

const POLICY: AdmissionPolicy = {
  maxInFlight: 100,
  maxInFlightPerAddress: 10,
  maxHeaderBytes: 1024,
  rateBuckets: 100,
  perAddress: null,
  trustedProxies: [],
};

function admission(policy: Partial<AdmissionPolicy> = {}) {
  const clock = new ManualClock();
  const limited: LimitName[] = [];
  const guard = new Admission({ ...POLICY, ...policy }, {
    clock,
    onLimited: (limit) => limited.push(limit),
  });
  return { guard, clock, limited };
}

/** Connection info of a TCP peer at `hostname`. */
function from(hostname: string): Deno.ServeHandlerInfo<Deno.NetAddr> {
  return { remoteAddr: { transport: "tcp", hostname, port: 40000 }, completed: Promise.resolve() };
}

function request(headers: Record<string, string> = {}): Request {
  return new Request("http://relay.test/v3/vaults", { headers });
}

/** Asserts that `work` throws a ProtocolError with `code` and `status`; returns it. */

Deno.test("admission admits a request and counts it in flight until released", () => {
  const { guard, limited } = admission();
  const release = guard.admit(request(), from("192.0.2.1"));
  assert.equal(guard.inFlight, 1);
  release();
  assert.equal(guard.inFlight, 0);
  assert.deepEqual(limited, []);
});

Deno.test("admission refuses headers above the limit with 431 headers_too_large", () => {
  const { guard, limited } = admission({ maxHeaderBytes: 100 });
  guard.admit(request({ "x-small": "a" }), from("192.0.2.1"))();
  const error = assertStatus(
    assertRefused(
      () => guard.admit(request({ "x-large": "a".repeat(100) }), from("192.0.2.1")),
      "headers_too_large",
    ),
    431,
  );
  assert.deepEqual(error.details, { limit: 100 });
  assert.match(error.message, /the limit is 100$/);
  assert.deepEqual(limited, ["headers"]);
  assert.equal(guard.inFlight, 0);
});

Deno.test("admission answers 503 busy once the relay has its limit of requests in flight", () => {
  const { guard, limited } = admission({ maxInFlight: 2 });
  const first = guard.admit(request(), from("192.0.2.1"));
  guard.admit(request(), from("192.0.2.2"));
  const error = assertStatus(
    assertRefused(() => guard.admit(request(), from("192.0.2.3")), "busy"),
    503,
  );
  assert.equal(error.retryAfter, 1);
  assert.deepEqual(limited, ["in_flight"]);
  first();
  guard.admit(request(), from("192.0.2.3"));
  assert.equal(guard.inFlight, 2);
});

Deno.test("admission answers 429 too_many_in_flight to an address at its limit, not to others", () => {
  const { guard, limited } = admission({ maxInFlightPerAddress: 2 });
  const first = guard.admit(request(), from("192.0.2.1"));
  guard.admit(request(), from("192.0.2.1"));
  const error = assertStatus(
    assertRefused(
      () => guard.admit(request(), from("192.0.2.1")),
      "too_many_in_flight",
    ),
    429,
  );
  assert.equal(error.retryAfter, 1);
  assert.deepEqual(error.details, { limit: 2 });
  assert.deepEqual(limited, ["address_in_flight"]);
  guard.admit(request(), from("192.0.2.2"));
  first();
  guard.admit(request(), from("192.0.2.1"));
});

Deno.test("admission counts an IPv4 client once whether or not it arrives IPv4-mapped", () => {
  const { guard } = admission({ maxInFlightPerAddress: 1 });
  guard.admit(request(), from("192.0.2.1"));
  assertStatus(
    assertRefused(
      () => guard.admit(request(), from("::ffff:192.0.2.1")),
      "too_many_in_flight",
    ),
    429,
  );
});

Deno.test("admission counts the client a trusted proxy names, not the proxy", () => {
  const { guard } = admission({
    maxInFlightPerAddress: 1,
    trustedProxies: parseTrustedProxies("127.0.0.1")!,
  });
  const proxy = from("127.0.0.1");
  guard.admit(request({ "x-forwarded-for": "203.0.113.7" }), proxy);
  guard.admit(request({ "x-forwarded-for": "203.0.113.8" }), proxy);
  assertStatus(
    assertRefused(
      () => guard.admit(request({ "x-forwarded-for": "203.0.113.7" }), proxy),
      "too_many_in_flight",
    ),
    429,
  );
});

Deno.test("admission answers 429 rate_limited with retry-after beyond the per-address rate", () => {
  const { guard, clock, limited } = admission({ perAddress: { perSecond: 0.5, burst: 2 } });
  guard.admit(request(), from("192.0.2.1"))();
  guard.admit(request(), from("192.0.2.1"))();
  const error = assertStatus(
    assertRefused(
      () => guard.admit(request(), from("192.0.2.1")),
      "rate_limited",
    ),
    429,
  );
  assert.equal(error.retryAfter, 2);
  assert.deepEqual(error.details, { scope: "address", retry_after: 2 });
  assert.deepEqual(limited, ["address_rate"]);
  assert.equal(guard.inFlight, 0, "a refused request is not in flight");
  guard.admit(request(), from("192.0.2.2"))();
  clock.advance(2000);
  guard.admit(request(), from("192.0.2.1"))();
});

Deno.test("admission release frees the slot once, however often it is called", () => {
  const { guard } = admission({ maxInFlight: 2, maxInFlightPerAddress: 2 });
  const first = guard.admit(request(), from("192.0.2.1"));
  guard.admit(request(), from("192.0.2.1"));
  first();
  first();
  assert.equal(guard.inFlight, 1);
  guard.admit(request(), from("192.0.2.1"));
  assertStatus(assertRefused(() => guard.admit(request(), from("192.0.2.1")), "busy"), 503);
});

Deno.test("rateLimited names its scope and when to retry", () => {
  const error = rateLimited("vault", 3);
  assert.equal(error.code, "rate_limited");
  assert.equal(error.status, 429);
  assert.equal(error.retryAfter, 3);
  assert.deepEqual(error.details, { scope: "vault", retry_after: 3 });
  assert.equal(error.message, "Too many requests from this vault; retry after 3 s");
});

/** Asserts the refusal's HTTP status; returns it for further checks. */
function assertStatus(error: ProtocolError, status: number): ProtocolError {
  assert.equal(error.status, status);
  return error;
}

Deno.test("admission answers an instant request with the in-flight caps full, but rate-limits it", () => {
  const clock = new ManualClock();
  const guard = new Admission(
    { ...POLICY, maxInFlight: 1, maxInFlightPerAddress: 1, perAddress: { perSecond: 1, burst: 2 } },
    { clock },
  );
  guard.admit(request(), from("192.0.2.1"));
  assertRefused(() => guard.admit(request(), from("192.0.2.1")), "busy");
  const release = guard.admit(request(), from("192.0.2.1"), "instant");
  release();
  assert.equal(guard.inFlight, 1, "an instant request takes no slot");
  assertRefused(() => guard.admit(request(), from("192.0.2.1"), "instant"), "rate_limited");
});
