import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { listenMultiaddrs, peerAddressKey } from "./addresses.ts";

Deno.test("p2p listens on exactly the IP literal that --p2p-listen names", () => {
  assert.deepEqual(listenMultiaddrs("127.0.0.1", 4001, ["::1"]), ["/ip4/127.0.0.1/tcp/4001"]);
  assert.deepEqual(listenMultiaddrs("::1", 4001, []), ["/ip6/::1/tcp/4001"]);
  assert.deepEqual(listenMultiaddrs("localhost", 4001, ["::1"]), ["/ip4/127.0.0.1/tcp/4001"]);
});

Deno.test("p2p listens on IPv4 and every IPv6 address for a wildcard --p2p-listen", () => {
  const expected = ["/ip4/0.0.0.0/tcp/4001", "/ip6/::1/tcp/4001", "/ip6/fd00::2/tcp/4001"];
  assert.deepEqual(listenMultiaddrs("0.0.0.0", 4001, ["::1", "fd00::2"]), expected);
  assert.deepEqual(listenMultiaddrs("::", 4001, ["::1", "fd00::2"]), expected);
  assert.deepEqual(listenMultiaddrs("relay.example.org", 4001, []), ["/ip4/0.0.0.0/tcp/4001"]);
});

Deno.test("a remote peer counts under its IPv4 address or its IPv6 /64", () => {
  assert.equal(peerAddressKey(multiaddr("/ip4/203.0.113.7/tcp/4001")), "203.0.113.7");
  assert.equal(peerAddressKey(multiaddr("/ip6/2001:db8:0:1::7/tcp/1")), "2001:db8:0:1::/64");
  assert.equal(
    peerAddressKey(multiaddr("/ip6/2001:db8:0:1:ffff::9/tcp/2")),
    peerAddressKey(multiaddr("/ip6/2001:db8:0:1::7/tcp/1")),
  );
  assert.notEqual(
    peerAddressKey(multiaddr("/ip6/2001:db8:0:2::7/tcp/1")),
    peerAddressKey(multiaddr("/ip6/2001:db8:0:1::7/tcp/1")),
  );
  assert.equal(peerAddressKey(multiaddr("/ip6/::ffff:203.0.113.7/tcp/1")), "203.0.113.7");
});
