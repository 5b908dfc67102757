/**
 * Value types of the flag table: how a flag's text is read (a parser from `values.ts`), the
 * placeholder `--help` shows and the "expected …" text of an error (`parse.ts` turns a refusal
 * into a `ConfigError` that names the flag).
 *
 * @module
 */
import { type IpNetwork, parseTrustedProxies } from "../guard/client_address.ts";
import { parseRateLimit, type RateLimit } from "../guard/rate_limit.ts";
import {
  integerIn,
  type ListenAddress,
  oneOf,
  parseBindHost,
  parseByteSize,
  parseListenAddress,
  parseMultiaddrList,
  parsePublicUrl,
  parseShardName,
  parseToken,
} from "./values.ts";

/** How a flag's text is read: its placeholder, what it accepts, and the parser. */
export interface ValueType<T> {
  /** Placeholder shown in `--help`, e.g. `HOST:PORT`. */
  readonly placeholder: string;
  /** What values are accepted, completing "expected …" in an error. */
  readonly accepted: string;
  /** Turns the raw text into a value, or returns `undefined` if it is not acceptable. */
  readonly parse: (raw: string) => T | undefined;
}

/** Relay operating modes. */
export const MODES = ["store-and-forward", "stateless"] as const;
/** One of {@linkcode MODES}. */
export type Mode = typeof MODES[number];

/**
 * Who checkpoints the database's write-ahead log: the relay (SQLite's automatic checkpoints and
 * a final one at stop), or something outside it, such as Litestream, which must be the only one.
 */
export const CHECKPOINTERS = ["relay", "external"] as const;
/** One of {@linkcode CHECKPOINTERS}. */
export type Checkpointer = typeof CHECKPOINTERS[number];

/** Log levels an operator can choose. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Log output formats. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

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

/** The public URL of the relay, see {@linkcode parsePublicUrl}. */
export const publicUrl: ValueType<URL | null> = {
  placeholder: "URL",
  accepted: "empty, or an http(s) URL with only a host such as https://relay.example.org",
  parse: parsePublicUrl,
};

/** This machine's host name, or `relay` where the operating system does not tell. */
function machineName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "relay";
  }
}

/** The name of one relay among several, see {@linkcode parseShardName}; empty: the host name. */
export const shardName: ValueType<string> = {
  placeholder: "NAME",
  accepted: "empty (the host name), or 1 to 253 letters, digits, dots, hyphens or underscores",
  parse: (raw) => parseShardName(raw === "" ? machineName() : raw),
};

/** A whole number, or `auto` (`null`): the relay finds the value at start. */
export function autoWholeNumber(options: { min: number; max: number }): ValueType<number | null> {
  const { min, max } = options;
  const parse = integerIn(min, max);
  return {
    placeholder: "COUNT|auto",
    accepted: `auto, or a whole number from ${min} to ${max}`,
    parse: (raw) => raw === "auto" ? null : parse(raw),
  };
}
