/**
 * Value parsers of the flag table: each takes the text an operator typed and returns the value,
 * or `undefined` when the text is not acceptable. `value_types.ts` pairs them with the
 * placeholder `--help` shows and the "expected …" text of an error.
 *
 * @module
 */

/** A listen address: host (IPv4, IPv6 without brackets, or a name) and TCP port. */
export interface ListenAddress {
  /** IPv4 or IPv6 address (without brackets) or a host name. */
  readonly hostname: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
}

/**
 * A parser accepting exactly one of `choices`.
 *
 * @example
 * ```ts
 * oneOf(["text", "json"])("json"); // "json"
 * oneOf(["text", "json"])("xml"); // undefined
 * ```
 */
export function oneOf<T extends string>(choices: readonly T[]): (raw: string) => T | undefined {
  return (raw) => choices.find((choice) => choice === raw);
}

/**
 * A parser accepting a whole number written in decimal digits from `min` to `max`.
 *
 * @example
 * ```ts
 * integerIn(1, 8760)("72"); // 72
 * integerIn(1, 8760)("-1"); // undefined
 * ```
 */
export function integerIn(min: number, max: number): (raw: string) => number | undefined {
  return (raw) => {
    if (!/^\d+$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  };
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  "b": 1,
  "kib": 1024,
  "mib": 1024 ** 2,
  "gib": 1024 ** 3,
};

/**
 * Parses a positive byte count such as `10485760`, `512KiB` or `10MiB` (units B, KiB, MiB, GiB,
 * any case).
 *
 * @example
 * ```ts
 * parseByteSize("10MiB"); // 10485760
 * ```
 */
export function parseByteSize(raw: string): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  if (!match) return undefined;
  const unit = BYTE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Number(match[1]) * unit;
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces).
 *
 * @example
 * ```ts
 * parseListenAddress("[::1]:3030"); // { hostname: "::1", port: 3030 }
 * parseListenAddress(":3030"); // { hostname: "0.0.0.0", port: 3030 }
 * ```
 */
export function parseListenAddress(raw: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(raw);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const hostname = match[1] ?? (match[2] || "0.0.0.0");
  return { hostname, port };
}

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

function isIpv6(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    // The URL parser validates IPv6 literals exactly (groups, `::`, an embedded IPv4 tail).
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a host address to bind: an IPv4 or IPv6 address (brackets optional) or `localhost`.
 * Host names other than `localhost` are refused: a listener binds addresses, not names.
 *
 * @example
 * ```ts
 * parseBindHost("0.0.0.0"); // "0.0.0.0"
 * parseBindHost("[::1]"); // "::1"
 * parseBindHost("relay.example.org"); // undefined
 * ```
 */
export function parseBindHost(raw: string): string | undefined {
  const text = raw.trim().replace(/^\[(.*)\]$/, "$1");
  if (text === "localhost" || isIpv4(text) || isIpv6(text)) return text;
  return undefined;
}

/**
 * Parses a comma-separated list of multiaddrs (empty for none). Only the shape is checked here so
 * that the flag table does not load libp2p; the p2p node parses each address fully at start.
 *
 * @example
 * ```ts
 * parseMultiaddrList("/ip4/203.0.113.7/tcp/4001, /dns4/relay.example.org/tcp/4001");
 * // ["/ip4/203.0.113.7/tcp/4001", "/dns4/relay.example.org/tcp/4001"]
 * ```
 */
export function parseMultiaddrList(raw: string): readonly string[] | undefined {
  const items = raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
  return items.every((item) => /^(\/[^\s/]+)+$/.test(item)) ? items : undefined;
}

/**
 * Parses a bearer token: visible ASCII characters only (it goes into an HTTP header), empty for
 * none.
 */
export function parseToken(raw: string): string | undefined {
  return /^[\x21-\x7e]*$/.test(raw) ? raw : undefined;
}

/**
 * Parses the public URL devices use (`https://relay.example.org`), or empty for none (`null`).
 * Only a scheme and a host (with an optional port) are allowed: the relay compares signed
 * `@authority` values with its host.
 */
export function parsePublicUrl(raw: string): URL | null | undefined {
  if (raw === "") return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" &&
    url.username === "" && url.password === "";
  return /^https?:$/.test(url.protocol) && bare ? url : undefined;
}

/**
 * Parses a shard name: 1 to 253 letters, digits, dots, hyphens or underscores (any host name
 * fits), as it goes into a response header, the status page and a metrics label unescaped.
 *
 * @example
 * ```ts
 * parseShardName("relay-2.eu"); // "relay-2.eu"
 * parseShardName("relay 2"); // undefined
 * ```
 */
export function parseShardName(raw: string): string | undefined {
  return /^[A-Za-z0-9._-]{1,253}$/.test(raw) ? raw : undefined;
}
