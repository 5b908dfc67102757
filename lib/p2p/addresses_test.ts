import assert from "node:assert/strict";
import { listenMultiaddrs } from "./addresses.ts";

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
