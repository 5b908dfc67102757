/**
 * Which TCP multiaddrs the libp2p node listens on, derived from the HTTP `--listen` host so a
 * relay bound to loopback keeps libp2p on loopback too.
 *
 * @module
 */

/**
 * The listen multiaddrs for `port`: both wildcards (IPv4 and IPv6) for a wildcard or named host,
 * loopback for `localhost`, and exactly the given address for an IP literal.
 *
 * @example
 * ```ts
 * listenMultiaddrs("0.0.0.0", 4001); // ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"]
 * listenMultiaddrs("127.0.0.1", 4001); // ["/ip4/127.0.0.1/tcp/4001"]
 * ```
 */
export function listenMultiaddrs(hostname: string, port: number): string[] {
  if (hostname === "0.0.0.0" || hostname === "::" || hostname === "") {
    return [`/ip4/0.0.0.0/tcp/${port}`, `/ip6/::/tcp/${port}`];
  }
  if (hostname === "localhost") return [`/ip4/127.0.0.1/tcp/${port}`];
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname)) return [`/ip4/${hostname}/tcp/${port}`];
  if (hostname.includes(":")) return [`/ip6/${hostname}/tcp/${port}`];
  // A host name cannot appear in a listen multiaddr; listen everywhere like the wildcard.
  return [`/ip4/0.0.0.0/tcp/${port}`, `/ip6/::/tcp/${port}`];
}
