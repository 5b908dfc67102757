import assert from "node:assert/strict";
import type { MultiaddrConnection, PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { AddressConnections } from "./connection_limits.ts";
import { Refusals } from "./refusals.ts";

/**
 * The part of a socket the gater reads: its remote address, its status and its close event.
 * IPv6 /64s other than loopback's cannot be dialled from in a test, hence this stand-in.
 */
class Socket extends EventTarget {
  status = "open";
  constructor(readonly remoteAddr = multiaddr("/ip4/127.0.0.1/tcp/1")) {
    super();
  }
  close(): void {
    this.status = "closed";
    this.dispatchEvent(new Event("close"));
  }
}

function socket(address: string): Socket & MultiaddrConnection {
  return new Socket(multiaddr(address)) as unknown as Socket & MultiaddrConnection;
}

const PEER = {} as PeerId;

Deno.test("connections from one IPv6 /64 share one cap, another /64 has its own", async () => {
  const refusals = new Refusals();
  const connections = new AddressConnections(
    { connectionsPerAddress: 2, pendingPerAddress: 2 },
    refusals,
  );
  const gater = connections.gater();
  const first = socket("/ip6/2001:db8:0:1::1/tcp/4001");
  assert.equal(await gater.denyInboundConnection!(first), false);
  assert.equal(
    await gater.denyInboundConnection!(socket("/ip6/2001:db8:0:1:ffff::2/tcp/1")),
    false,
  );
  assert.equal(await gater.denyInboundConnection!(socket("/ip6/2001:db8:0:1::3/tcp/1")), true);
  assert.equal(await gater.denyInboundConnection!(socket("/ip6/2001:db8:0:2::1/tcp/1")), false);
  assert.deepEqual(connections.heldBy("2001:db8:0:1::/64"), { open: 2, pending: 2 });
  first.close();
  assert.deepEqual(connections.heldBy("2001:db8:0:1::/64"), { open: 1, pending: 1 });
  assert.equal(await gater.denyInboundConnection!(socket("/ip6/2001:db8:0:1::3/tcp/1")), false);
  assert.deepEqual(refusals.snapshot(), { connection_address: 1 });
});

Deno.test("a connection stops counting as a handshake once upgraded, and stops counting when closed", async () => {
  const connections = new AddressConnections({ connectionsPerAddress: 3, pendingPerAddress: 1 });
  const gater = connections.gater();
  const upgraded = socket("/ip4/203.0.113.7/tcp/1");
  assert.equal(await gater.denyInboundConnection!(upgraded), false);
  assert.equal(await gater.denyInboundConnection!(socket("/ip4/203.0.113.7/tcp/2")), true);
  assert.equal(await gater.denyInboundUpgradedConnection!(PEER, upgraded), false);
  const pending = socket("/ip4/203.0.113.7/tcp/3");
  assert.equal(await gater.denyInboundConnection!(pending), false);
  assert.deepEqual(connections.heldBy("203.0.113.7"), { open: 2, pending: 1 });
  pending.close();
  upgraded.close();
  assert.deepEqual(connections.heldBy("203.0.113.7"), { open: 0, pending: 0 });
  assert.equal(connections.addresses, 0, "no entry is kept for an address without connections");
});
