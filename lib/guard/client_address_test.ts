import assert from "node:assert/strict";
import {
  addressKey,
  clientAddress,
  isTrusted,
  parseIp,
  parseTrustedProxies,
} from "./client_address.ts";

function info(hostname: string, port = 50000): Deno.ServeHandlerInfo<Deno.NetAddr> {
  return {
    remoteAddr: { transport: "tcp", hostname, port },
    completed: Promise.resolve(),
  };
}

function request(headers: Record<string, string>): Request {
  return new Request("http://relay.test/", { headers });
}

const trusted = parseTrustedProxies("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8")!;

Deno.test("trust-proxy parsing accepts IPv4 and IPv6 addresses and networks", () => {
  assert.equal(trusted.length, 4);
  assert.deepEqual(parseTrustedProxies(""), []);
  for (
    const bad of ["10.0.0.0/33", "1.2.3", "::1/129", "example.org", "10.0.0.1/8/8", "1.2.3.4/x"]
  ) {
    assert.equal(parseTrustedProxies(bad), undefined, bad);
  }
});

Deno.test("CIDR matching covers IPv4, IPv6 and IPv4-mapped IPv6 peers", () => {
  assert.ok(isTrusted("10.200.3.4", trusted));
  assert.ok(isTrusted("::ffff:127.0.0.1", trusted));
  assert.ok(isTrusted("fd12:3456::1", trusted));
  assert.ok(isTrusted("::1", trusted));
  assert.ok(!isTrusted("11.0.0.1", trusted));
  assert.ok(!isTrusted("fe80::1", trusted));
  assert.ok(!isTrusted("2001:db8::1", trusted));
  assert.equal(parseIp("2001:db8::1")?.bits, 0x20010db8000000000000000000000001n);
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
});

Deno.test("an untrusted peer's forwarded headers are ignored", () => {
  const got = clientAddress(
    request({ "x-forwarded-for": "203.0.113.7", forwarded: "for=198.51.100.1" }),
    info("192.0.2.50", 4711),
    trusted,
  );
  assert.deepEqual(got, { hostname: "192.0.2.50", port: 4711 });
});

Deno.test("forwarded headers are ignored when no proxy is trusted", () => {
  const got = clientAddress(request({ "x-forwarded-for": "203.0.113.7" }), info("127.0.0.1"), []);
  assert.equal(got.hostname, "127.0.0.1");
});

Deno.test("a trusted peer's X-Forwarded-For names the client", () => {
  const got = clientAddress(
    request({ "x-forwarded-for": "203.0.113.7" }),
    info("127.0.0.1"),
    trusted,
  );
  assert.deepEqual(got, { hostname: "203.0.113.7", port: 0 });
});

Deno.test("a trusted peer's Forwarded header names the client with its port", () => {
  const got = clientAddress(
    request({ forwarded: 'for="[2001:db8::7]:4711";proto=https, for=10.1.1.1' }),
    info("::1"),
    trusted,
  );
  assert.deepEqual(got, { hostname: "2001:db8::7", port: 4711 });
});

Deno.test("the rightmost untrusted hop of a chain is the client, not what it claims", () => {
  const got = clientAddress(
    request({ "x-forwarded-for": "1.1.1.1, 203.0.113.7, 10.0.0.2, 10.0.0.3" }),
    info("127.0.0.1"),
    trusted,
  );
  assert.equal(got.hostname, "203.0.113.7");
});

Deno.test("a chain of only trusted hops ends at its leftmost hop", () => {
  const got = clientAddress(
    request({ "x-forwarded-for": "10.0.0.9, 10.0.0.2" }),
    info("127.0.0.1"),
    trusted,
  );
  assert.equal(got.hostname, "10.0.0.9");
});

Deno.test("an unreadable hop stops the walk at the last trusted address", () => {
  const got = clientAddress(
    request({ "x-forwarded-for": "203.0.113.7, not-an-ip" }),
    info("127.0.0.1"),
    trusted,
  );
  assert.equal(got.hostname, "127.0.0.1");
});

Deno.test("per-address limits count an IPv4 address alone and an IPv6 address by its /64", () => {
  assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  assert.equal(addressKey("2001:db8:0:1:ffff:1:2:3"), addressKey("2001:db8:0:1::9"));
  assert.notEqual(addressKey("2001:db8:0:2::5"), addressKey("2001:db8:0:1::5"));
});
