/**
 * The caller's address: the TCP peer, or, when that peer is a trusted reverse proxy
 * (`--trust-proxy`), the client the proxy names in `X-Forwarded-For` or `Forwarded`.
 *
 * A forwarded header is only as good as the hop that wrote it, so the chain is read from the
 * right: every hop appended by a trusted proxy is skipped, and the first untrusted hop is the
 * client. Anything a client wrote further left is ignored, so it cannot pick its own address.
 *
 * @module
 */

/** An IP network: its first address and prefix length, per family. */
export interface IpNetwork {
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
}

/** A caller's address. `port` is 0 when a proxy did not say which port the client used. */
export interface ClientAddress {
  readonly hostname: string;
  readonly port: number;
}

interface ParsedIp {
  readonly family: 4 | 6;
  readonly bits: bigint;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    bits = (bits << 8n) | BigInt(part);
  }
  return bits;
}

function parseIpv6Groups(text: string): number[] | undefined {
  const groups: number[] = [];
  for (const [i, group] of text.split(":").entries()) {
    if (group.includes(".") && i === text.split(":").length - 1) {
      const v4 = parseIpv4(group);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-f]{1,4}$/i.test(group)) {
      groups.push(parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.replace(/%.*$/, "").split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : parseIpv6Groups(halves[0]!);
  const tail = halves.length === 1 || halves[1] === "" ? [] : parseIpv6Groups(halves[1]!);
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
  return groups.reduce((bits, group) => (bits << 16n) | BigInt(group), 0n);
}

/** Parses an IPv4 or IPv6 address; an IPv4-mapped IPv6 address counts as IPv4. */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, bits: v4 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, bits: v6 & 0xffffffffn };
  return { family: 6, bits: v6 };
}

/**
 * Parses a comma-separated list of IPs and CIDRs such as `127.0.0.1, 10.0.0.0/8, ::1, fd00::/8`.
 * Returns `undefined` when any item is not an address or network. An empty string is no proxies.
 */
export function parseTrustedProxies(raw: string): readonly IpNetwork[] | undefined {
  const networks: IpNetwork[] = [];
  for (const item of raw.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const [address, prefixText, extra] = item.split("/");
    const ip = parseIp(address!);
    if (!ip || extra !== undefined) return undefined;
    const width = ip.family === 4 ? 32 : 128;
    if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
    const prefix = prefixText === undefined ? width : Number(prefixText);
    if (prefix > width) return undefined;
    networks.push({ family: ip.family, bits: ip.bits, prefix });
  }
  return networks;
}

/** Whether `hostname` lies in one of `networks`. */
export function isTrusted(hostname: string, networks: readonly IpNetwork[]): boolean {
  const ip = parseIp(hostname);
  if (!ip) return false;
  return networks.some((network) => {
    if (network.family !== ip.family) return false;
    const shift = BigInt((ip.family === 4 ? 32 : 128) - network.prefix);
    return (network.bits >> shift) === (ip.bits >> shift);
  });
}

/** Splits a hop like `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711` or `2001:db8::1`. */
function parseHop(raw: string): ClientAddress | undefined {
  const hop = raw.trim().replace(/^"|"$/g, "");
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(hop);
  if (bracketed) {
    return parseIp(bracketed[1]!)
      ? { hostname: bracketed[1]!, port: Number(bracketed[2] ?? 0) }
      : undefined;
  }
  const withPort = /^([\d.]+):(\d{1,5})$/.exec(hop);
  if (withPort) {
    return parseIp(withPort[1]!)
      ? { hostname: withPort[1]!, port: Number(withPort[2]) }
      : undefined;
  }
  return parseIp(hop) ? { hostname: hop, port: 0 } : undefined;
}

/** The `for=` values of a `Forwarded` header (RFC 7239), in order; `undefined` for junk. */
function forwardedFor(header: string): (ClientAddress | undefined)[] {
  return header.split(",").map((element) => {
    const pair = element.split(";").map((p) => p.trim()).find((p) => /^for=/i.test(p));
    return pair === undefined ? undefined : parseHop(pair.slice(4));
  });
}

/** The hops the proxies reported, leftmost first. X-Forwarded-For wins, as nginx and Caddy set it. */
function forwardedHops(headers: Headers): (ClientAddress | undefined)[] {
  const xff = headers.get("x-forwarded-for");
  if (xff !== null) return xff.split(",").map(parseHop);
  const forwarded = headers.get("forwarded");
  return forwarded === null ? [] : forwardedFor(forwarded);
}

/**
 * The address of whoever sent `request`. The TCP peer in `info.remoteAddr`, unless it is in
 * `trustedProxies`: then the rightmost hop of the forwarded chain not itself a trusted proxy.
 * An unreadable hop stops the walk, and the last trusted address seen is the answer.
 *
 * @example
 * ```ts
 * const trusted = parseTrustedProxies("127.0.0.1")!;
 * const address = clientAddress(request, info, trusted); // { hostname: "203.0.113.7", port: 0 }
 * ```
 */
export function clientAddress(
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  trustedProxies: readonly IpNetwork[],
): ClientAddress {
  let current: ClientAddress = { hostname: info.remoteAddr.hostname, port: info.remoteAddr.port };
  if (trustedProxies.length === 0) return current;
  const hops = forwardedHops(request.headers);
  while (isTrusted(current.hostname, trustedProxies)) {
    const next = hops.pop();
    if (next === undefined) break;
    current = next;
  }
  return current;
}

/**
 * The key per-address limits count under: an IPv4 address (an IPv4-mapped IPv6 address counts as
 * its IPv4 address, e.g. `::ffff:1.2.3.4` -> `1.2.3.4`), or an IPv6 /64, which one subscriber
 * usually holds whole (`2001:db8:0:1::/64`).
 */
export function addressKey(hostname: string): string {
  const ip = parseIp(hostname);
  if (!ip) return hostname;
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.bits >> shift) & 0xffn)).join(".");
  }
  const groups = [112n, 96n, 80n, 64n].map((shift) => ((ip.bits >> shift) & 0xffffn).toString(16));
  return `${groups.join(":")}::/64`;
}
