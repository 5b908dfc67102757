/**
 * Which TCP multiaddrs the libp2p node listens on, derived from `--p2p-listen`. It is independent
 * of the HTTP `--listen`: behind a reverse proxy the HTTP API stays on loopback while libp2p,
 * which the proxy does not carry, must be reachable from outside. And the address a remote peer
 * counts under for per-address limits.
 *
 * @module
 */
import { networkInterfaces } from "node:os";
import type { Multiaddr } from "@multiformats/multiaddr";
import { addressKey } from "../guard/client_address.ts";

/** IPv6 addresses of this machine, without link-local ones (they need a zone to bind). */
function localIpv6Addresses(): string[] {
  try {
    return Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === "IPv6" && !/^fe[89ab]/i.test(entry.address))
      .map((entry) => entry.address);
  } catch {
    // No permission to list interfaces: IPv4 alone still works.
    return [];
  }
}

/**
 * The listen multiaddrs for `port`: for a wildcard or named host the IPv4 wildcard plus every
 * IPv6 address of the machine; loopback for `localhost`; exactly the given address for an IP.
 *
 * Deno's `node:net` ignores `ipv6Only`, so a `/ip6/::` listener is dual-stack and fails with
 * "address in use" next to `/ip4/0.0.0.0`; binding the machine's IPv6 addresses one by one
 * avoids that clash on every platform.
 *
 * @example
 * ```ts
 * listenMultiaddrs("127.0.0.1", 4001); // ["/ip4/127.0.0.1/tcp/4001"]
 * listenMultiaddrs("0.0.0.0", 4001, ["::1"]); // ["/ip4/0.0.0.0/tcp/4001", "/ip6/::1/tcp/4001"]
 * ```
 */
export function listenMultiaddrs(
  hostname: string,
  port: number,
  ipv6Addresses: readonly string[] = localIpv6Addresses(),
): string[] {
  if (hostname === "localhost") return [`/ip4/127.0.0.1/tcp/${port}`];
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) && hostname !== "0.0.0.0") {
    return [`/ip4/${hostname}/tcp/${port}`];
  }
  if (hostname.includes(":") && hostname !== "::") return [`/ip6/${hostname}/tcp/${port}`];
  // The wildcards, and host names (which cannot appear in a listen multiaddr): everywhere.
  return [
    `/ip4/0.0.0.0/tcp/${port}`,
    ...ipv6Addresses.map((address) => `/ip6/${address}/tcp/${port}`),
  ];
}

/** The IP address of a TCP multiaddr, or `undefined` for other kinds. */
export function ipOf(addr: Multiaddr): string | undefined {
  const first = addr.getComponents()[0];
  return first && (first.name === "ip4" || first.name === "ip6") ? first.value : undefined;
}

/**
 * The key per-address limits count a remote peer under: its IPv4 address, or its IPv6 /64 (as
 * `addressKey` groups HTTP clients); the whole multiaddr when it has no IP.
 *
 * @example
 * ```ts
 * peerAddressKey(multiaddr("/ip6/2001:db8:0:1::7/tcp/4001")); // "2001:db8:0:1::/64"
 * ```
 */
export function peerAddressKey(addr: Multiaddr): string {
  const ip = ipOf(addr);
  return ip === undefined ? addr.toString() : addressKey(ip);
}
