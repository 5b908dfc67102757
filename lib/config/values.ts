/**
 * Value types of the flag table. A parser takes the text an operator typed and returns the
 * value, or `undefined` when the text is not acceptable; a {@linkcode ValueType} adds the
 * placeholder `--help` shows and the "expected …" text of the error (`parse.ts` turns a refusal
 * into a `ConfigError` that names the flag).
 *
 * @module
 */
import { type IpNetwork, parseTrustedProxies } from "../guard/client_address.ts";
import { parseRateLimit, type RateLimit } from "../guard/rate_limit.ts";

/** How a flag's text is read: its placeholder, what it accepts, and the parser. */
export interface ValueType<T> {
  /** Placeholder shown in `--help`, e.g. `HOST:PORT`. */
  readonly placeholder: string;
  /** What values are accepted, completing "expected …" in an error. */
  readonly accepted: string;
  /** Turns the raw text into a value, or returns `undefined` if it is not acceptable. */
  readonly parse: (raw: string) => T | undefined;
}

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

/** `a, b or c`. */
function listing(items: readonly string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/**
 * One of a fixed list of words.
 *
 * @example
 * ```ts
 * choice("FORMAT", ["text", "json"]).accepted; // "text or json"
 * ```
 */
export function choice<T extends string>(
  placeholder: string,
  choices: readonly T[],
): ValueType<T> {
  return { placeholder, accepted: listing(choices), parse: oneOf(choices) };
}

/**
 * A whole number from `min` to `max`, optionally of a unit (`hours`, `seconds`), which also
 * names the placeholder.
 *
 * @example
 * ```ts
 * wholeNumber({ min: 1, max: 8760, unit: "hours" }).accepted;
 * // "a whole number of hours from 1 to 8760"
 * ```
 */
export function wholeNumber(
  options: { min: number; max: number; unit?: string },
): ValueType<number> {
  const { min, max, unit } = options;
  return {
    placeholder: unit?.toUpperCase() ?? "COUNT",
    accepted: `a whole number${unit ? ` of ${unit}` : ""} from ${min} to ${max}`,
    parse: integerIn(min, max),
  };
}

/** A TCP port from `min` (0 or 1) to 65535. */
export function port(min: number): ValueType<number> {
  return {
    placeholder: "PORT",
    accepted: `a port from ${min} to 65535`,
    parse: integerIn(min, 65535),
  };
}

/**
 * A positive byte count; `example` (such as `16KiB`) is shown with its value in bytes.
 *
 * @example
 * ```ts
 * byteSize("16KiB").accepted; // "a positive byte count such as 16384 or 16KiB"
 * ```
 */
export function byteSize(example: string): ValueType<number> {
  return {
    placeholder: "BYTES",
    accepted: `a positive byte count such as ${parseByteSize(example)} or ${example}`,
    parse: parseByteSize,
  };
}

const LISTEN_ACCEPTED = "HOST:PORT, [IPv6]:PORT or :PORT with a port from 0 to 65535";

/** A listen address, see {@linkcode parseListenAddress}. */
export const listenAddress: ValueType<ListenAddress> = {
  placeholder: "HOST:PORT",
  accepted: LISTEN_ACCEPTED,
  parse: parseListenAddress,
};

/** A listen address, or empty for `null` (the listener stays off). */
export const optionalListenAddress: ValueType<ListenAddress | null> = {
  placeholder: "HOST:PORT",
  accepted: `empty, or ${LISTEN_ACCEPTED}`,
  parse: (raw) => raw === "" ? null : parseListenAddress(raw),
};

/** An address to bind, see {@linkcode parseBindHost}. */
export const bindHost: ValueType<string> = {
  placeholder: "HOST",
  accepted: "an IPv4 or IPv6 address such as 0.0.0.0, 203.0.113.7 or ::1, or localhost",
  parse: parseBindHost,
};

/** A non-empty file path. Whether it names a folder is checked by `parse.ts`, not here. */
export const filePath: ValueType<string> = {
  placeholder: "PATH",
  accepted: "a file path",
  parse: (raw) => raw === "" ? undefined : raw,
};

/** Multiaddrs, see {@linkcode parseMultiaddrList}. */
export const multiaddrList: ValueType<readonly string[]> = {
  placeholder: "MULTIADDRS",
  accepted:
    "comma-separated multiaddrs such as /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example.org/tcp/4001",
  parse: parseMultiaddrList,
};

/** A bearer token, see {@linkcode parseToken}. */
export const token: ValueType<string> = {
  placeholder: "TOKEN",
  accepted: "a token of visible ASCII characters",
  parse: parseToken,
};

/** Proxy addresses and networks, parsed by the guard that uses them. */
export const trustedProxies: ValueType<readonly IpNetwork[]> = {
  placeholder: "ADDRESSES",
  accepted: "comma-separated IPv4 or IPv6 addresses or CIDRs such as 127.0.0.1,10.0.0.0/8,::1",
  parse: parseTrustedProxies,
};

/**
 * A rate and burst, parsed by the guard that uses them; `null` turns the limit off.
 *
 * @example
 * ```ts
 * rateLimit("20/100").accepted; // "RATE/BURST such as 20/100, a RATE alone, or 0 to turn the limit off"
 * ```
 */
export function rateLimit(example: string): ValueType<RateLimit | null> {
  return {
    placeholder: "RATE/BURST",
    accepted: `RATE/BURST such as ${example}, a RATE alone, or 0 to turn the limit off`,
    parse: parseRateLimit,
  };
}

/** A byte count, or `auto` (`null`): the relay picks the value at start. */
export function autoByteSize(example: string): ValueType<number | null> {
  return {
    placeholder: "BYTES|auto",
    accepted: `auto, or a positive byte count such as ${parseByteSize(example)} or ${example}`,
    parse: (raw) => raw === "auto" ? null : parseByteSize(raw),
  };
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

/** The public URL of the relay, see {@linkcode parsePublicUrl}. */
export const publicUrl: ValueType<URL | null> = {
  placeholder: "URL",
  accepted: "empty, or an http(s) URL with only a host such as https://relay.example.org",
  parse: parsePublicUrl,
};
