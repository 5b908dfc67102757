/**
 * Every command-line flag of the relay, defined once.
 *
 * The {@linkcode FLAGS} table drives parsing, validation, `--help`, the README's flags table and
 * the download page. Each flag can also be set through its `VAULTMESH_RELAY_*` environment
 * variable; a flag on the command line wins over the environment, which wins over the default.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseTrustedProxies } from "../guard/client_address.ts";
import { parseRateLimit } from "../guard/rate_limit.ts";

/** A value that cannot be accepted for a flag, or an unknown flag. Exit status 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** How one flag is named, parsed, defaulted and explained. */
export interface FlagSpec<T> {
  /** Placeholder shown in `--help`, e.g. `HOST:PORT`. */
  readonly placeholder: string;
  /** The default, as an operator would type it. */
  readonly default: string;
  /** One line for `--help` and the README. */
  readonly help: string;
  /** What values are accepted, completing "expected …" in an error. */
  readonly accepted: string;
  /** Turns the raw text into a value, or returns `undefined` if it is not acceptable. */
  readonly parse: (raw: string) => T | undefined;
}

/** A listen address: host (IPv4, IPv6 without brackets, or a name) and TCP port. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Relay operating modes. */
export const MODES = ["store-and-forward", "stateless"] as const;
/** One of {@linkcode MODES}. */
export type Mode = typeof MODES[number];

/** Log levels an operator can choose. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Log output formats. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: string): T | undefined => choices.find((choice) => choice === raw);
}

function integerIn(min: number, max: number) {
  return (raw: string): number | undefined => {
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

/** Parses a byte count such as `10485760`, `512KiB` or `10MiB`. */
export function parseByteSize(raw: string): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  if (!match) return undefined;
  const unit = BYTE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Number(match[1]) * unit;
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
export function parseListenAddress(raw: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(raw);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const hostname = match[1] ?? (match[2] || "0.0.0.0");
  return { hostname, port };
}

/**
 * Parses a comma-separated list of multiaddrs (empty for none). Only the shape is checked here so
 * that the flag table does not load libp2p; the p2p node parses each address fully at start.
 */
export function parseMultiaddrList(raw: string): readonly string[] | undefined {
  const items = raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
  return items.every((item) => /^(\/[^\s/]+)+$/.test(item)) ? items : undefined;
}

function flag<T>(spec: FlagSpec<T>): FlagSpec<T> {
  return spec;
}

/** The flag table. Keys are camelCase; the flag is its kebab-case form. */
export const FLAGS = {
  listen: flag({
    placeholder: "HOST:PORT",
    default: "0.0.0.0:3030",
    help: "HTTP API listen address",
    accepted: "HOST:PORT, [IPv6]:PORT or :PORT with a port from 0 to 65535",
    parse: parseListenAddress,
  }),
  db: flag({
    placeholder: "PATH",
    default: "relay.db",
    help: "SQLite database path for persistent storage (its folder must exist)",
    accepted: "a file path",
    parse: (raw) => raw === "" ? undefined : raw,
  }),
  mode: flag({
    placeholder: "MODE",
    default: "store-and-forward",
    help: "store-and-forward (persistent) or stateless",
    accepted: MODES.join(" or "),
    parse: oneOf(MODES),
  }),
  ttlHours: flag({
    placeholder: "HOURS",
    default: "72",
    help: "message TTL in hours",
    accepted: "a whole number of hours from 1 to 8760",
    parse: integerIn(1, 8760),
  }),
  maxBuffer: flag({
    placeholder: "BYTES",
    default: "10485760",
    help: "maximum buffered bytes per vault",
    accepted: "a positive byte count such as 10485760 or 10MiB",
    parse: parseByteSize,
  }),
  maxEnvelope: flag({
    placeholder: "BYTES",
    default: "1MiB",
    help: "largest envelope accepted, answered with 413 above it",
    accepted: "a positive byte count such as 1048576 or 1MiB",
    parse: parseByteSize,
  }),
  p2pPort: flag({
    placeholder: "PORT",
    default: "4001",
    help: "libp2p Circuit Relay listen port; 0 disables",
    accepted: "a port from 0 to 65535",
    parse: integerIn(0, 65535),
  }),
  p2pAnnounce: flag({
    placeholder: "MULTIADDRS",
    default: "",
    help: "comma-separated multiaddrs the libp2p relay announces (its public addresses behind NAT)",
    accepted:
      "comma-separated multiaddrs such as /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example.org/tcp/4001",
    parse: parseMultiaddrList,
  }),
  p2pMaxReservations: flag({
    placeholder: "COUNT",
    default: "128",
    help: "maximum Circuit Relay reservations held at once",
    accepted: "a whole number from 1 to 1000000",
    parse: integerIn(1, 1_000_000),
  }),
  p2pMaxReservationsPerIp: flag({
    placeholder: "COUNT",
    default: "4",
    help: "maximum Circuit Relay reservations from one IP address",
    accepted: "a whole number from 1 to 1000000",
    parse: integerIn(1, 1_000_000),
  }),
  p2pReservationTtl: flag({
    placeholder: "SECONDS",
    default: "3600",
    help: "how long a Circuit Relay reservation lasts unless refreshed, in seconds",
    accepted: "a whole number of seconds from 60 to 86400",
    parse: integerIn(60, 86400),
  }),
  p2pMaxCircuits: flag({
    placeholder: "COUNT",
    default: "16",
    help: "maximum relayed circuits open at once to one reserving peer",
    accepted: "a whole number from 1 to 100000",
    parse: integerIn(1, 100_000),
  }),
  p2pCircuitBytes: flag({
    placeholder: "BYTES",
    default: "131072",
    help: "bytes one relayed circuit may carry (both directions) before it is closed",
    accepted: "a positive byte count such as 131072 or 128KiB",
    parse: parseByteSize,
  }),
  p2pCircuitSeconds: flag({
    placeholder: "SECONDS",
    default: "120",
    help: "seconds one relayed circuit may stay open",
    accepted: "a whole number of seconds from 1 to 86400",
    parse: integerIn(1, 86400),
  }),
  p2pMaxRegistrations: flag({
    placeholder: "COUNT",
    default: "10000",
    help: "maximum rendezvous registrations held at once",
    accepted: "a whole number from 1 to 10000000",
    parse: integerIn(1, 10_000_000),
  }),
  p2pMaxRegistrationsPerPeer: flag({
    placeholder: "COUNT",
    default: "1000",
    help: "maximum rendezvous registrations of one peer",
    accepted: "a whole number from 1 to 1000000",
    parse: integerIn(1, 1_000_000),
  }),
  rateLimitIp: flag({
    placeholder: "RATE/BURST",
    default: "20/100",
    help: "requests per second (and burst) from one client address, before authentication; 0 off",
    accepted: "RATE/BURST such as 20/100, a RATE alone, or 0 to turn the limit off",
    parse: parseRateLimit,
  }),
  rateLimitVault: flag({
    placeholder: "RATE/BURST",
    default: "50/200",
    help:
      "requests per second (and burst) of one vault, counted after its signature verified; 0 off",
    accepted: "RATE/BURST such as 50/200, a RATE alone, or 0 to turn the limit off",
    parse: parseRateLimit,
  }),
  maxConnections: flag({
    placeholder: "COUNT",
    default: "4096",
    help: "HTTP requests in flight at once (long polls included); 503 beyond it",
    accepted: "a whole number from 1 to 1000000",
    parse: integerIn(1, 1_000_000),
  }),
  maxConnectionsPerIp: flag({
    placeholder: "COUNT",
    default: "64",
    help: "HTTP requests in flight at once from one client address; 429 beyond it",
    accepted: "a whole number from 1 to 1000000",
    parse: integerIn(1, 1_000_000),
  }),
  maxSocketsPerVault: flag({
    placeholder: "COUNT",
    default: "32",
    help: "authenticated sockets open at once for one vault; more are closed with 4029",
    accepted: "a whole number from 1 to 100000",
    parse: integerIn(1, 100_000),
  }),
  socketIdleTimeout: flag({
    placeholder: "SECONDS",
    default: "60",
    help: "seconds between pings on an idle socket; one unanswered ping closes it (0 disables)",
    accepted: "a whole number of seconds from 0 to 3600",
    parse: integerIn(0, 3600),
  }),
  maxHeaderBytes: flag({
    placeholder: "BYTES",
    default: "16KiB",
    help: "largest total size of a request's header names and values; 431 above it",
    accepted: "a positive byte count such as 16384 or 16KiB",
    parse: parseByteSize,
  }),
  bodyTimeout: flag({
    placeholder: "SECONDS",
    default: "30",
    help: "seconds a request body may take to arrive; 408 after it",
    accepted: "a whole number of seconds from 1 to 3600",
    parse: integerIn(1, 3600),
  }),
  metricsListen: flag({
    placeholder: "HOST:PORT",
    default: "",
    help: "listen address of the Prometheus /metrics endpoint; empty keeps metrics off",
    accepted: "empty, or HOST:PORT, [IPv6]:PORT or :PORT with a port from 0 to 65535",
    parse: (raw: string) => raw === "" ? null : parseListenAddress(raw),
  }),
  metricsToken: flag({
    placeholder: "TOKEN",
    default: "",
    help: "bearer token a scraper must send to /metrics; empty for none",
    accepted: "a token of visible ASCII characters",
    parse: (raw: string) => /^[\x21-\x7e]*$/.test(raw) ? raw : undefined,
  }),
  trustProxy: flag({
    placeholder: "ADDRESSES",
    default: "",
    help:
      "comma-separated proxy IPs/CIDRs whose X-Forwarded-For or Forwarded header names the client",
    accepted: "comma-separated IPv4 or IPv6 addresses or CIDRs such as 127.0.0.1,10.0.0.0/8,::1",
    parse: parseTrustedProxies,
  }),
  logLevel: flag({
    placeholder: "LEVEL",
    default: "info",
    help: "least severe log level written: debug, info, warning or error",
    accepted: LOG_LEVELS.join(", "),
    parse: oneOf(LOG_LEVELS),
  }),
  logFormat: flag({
    placeholder: "FORMAT",
    default: "text",
    help: "log format: text for people, json for one JSON object per line",
    accepted: LOG_FORMATS.join(" or "),
    parse: oneOf(LOG_FORMATS),
  }),
} as const;

/** Key of a flag in {@linkcode FLAGS}. */
export type FlagKey = keyof typeof FLAGS;

/** The relay's configuration: one parsed value per flag. */
export type Config = {
  readonly [K in FlagKey]: typeof FLAGS[K] extends FlagSpec<infer T> ? T : never;
};

/** `ttlHours` -> `--ttl-hours`. */
export function flagName(key: FlagKey): string {
  return "--" + key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
}

/** `ttlHours` -> `VAULTMESH_RELAY_TTL_HOURS`. */
export function envName(key: FlagKey): string {
  return "VAULTMESH_RELAY_" + flagName(key).slice(2).replaceAll("-", "_").toUpperCase();
}

/** Every flag key, in table order. */
export const FLAG_KEYS = Object.keys(FLAGS) as FlagKey[];

/** What the command line asks for: run the relay, or only print help or the version. */
export type Command =
  | { readonly kind: "run"; readonly config: Config }
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "check"; readonly url: string };

function parseCheckCommand(args: readonly string[]): Command {
  const [url, ...extra] = args;
  let parsed: URL | undefined;
  try {
    parsed = url === undefined ? undefined : new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol) || extra.length > 0) {
    throw new ConfigError(
      `Cannot check ${
        JSON.stringify(args.join(" "))
      }: usage is vaultmesh-relay check <url>, e.g. check https://relay.example.org`,
    );
  }
  return { kind: "check", url: parsed.href };
}

function parseValue(key: FlagKey, raw: string, source: string): unknown {
  const value = FLAGS[key].parse(raw);
  if (value === undefined) {
    throw new ConfigError(
      `Cannot parse ${source} ${JSON.stringify(raw)}: expected ${FLAGS[key].accepted}`,
    );
  }
  return value;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function unknownFlagError(arg: string): ConfigError {
  const given = arg.replace(/=.*$/, "");
  const names = [...FLAG_KEYS.map(flagName), "--help", "--version"];
  const closest = names
    .map((name) => ({ name, distance: levenshtein(given, name) }))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = closest && closest.distance <= 3 ? ` (did you mean ${closest.name}?)` : "";
  return new ConfigError(
    `Unknown flag ${JSON.stringify(given)}${hint}: run with --help to list the flags`,
  );
}

/** Joins `--flag -1` into `--flag=-1` so a negative value is reported as a bad value. */
function joinNegativeValues(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (/^--[a-z0-9-]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function parseCommandLine(args: readonly string[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const key of FLAG_KEYS) options[flagName(key).slice(2)] = { type: "string" };
  try {
    return parseArgs({
      args: joinNegativeValues(args),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const arg = /'([^']+)'/.exec(message)?.[1] ?? args.find((a) => a.startsWith("-")) ?? "";
      throw unknownFlagError(arg);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = /--([a-z0-9-]+)/.exec(message)?.[0] ?? "a flag";
      throw new ConfigError(`Missing value for ${name}: run with --help to see what it takes`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const extra = args.find((a) => !a.startsWith("-")) ?? "";
      throw new ConfigError(
        `Unexpected argument ${JSON.stringify(extra)}: flags take the form --name value`,
      );
    }
    throw new ConfigError(message);
  }
}

/**
 * Parses the command line and environment into a {@linkcode Command}.
 *
 * @example
 * ```ts
 * const command = parseCommand(["--mode", "stateless"], {});
 * // command.kind === "run", command.config.mode === "stateless"
 * ```
 * @throws {ConfigError} naming the flag (or variable), the value and what is accepted.
 */
export function parseCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Command {
  if (args[0] === "check") return parseCheckCommand(args.slice(1));
  const { values } = parseCommandLine(args);
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const config: Record<string, unknown> = {};
  for (const key of FLAG_KEYS) {
    const fromFlag = values[flagName(key).slice(2)];
    const fromEnv = env[envName(key)];
    if (typeof fromFlag === "string") config[key] = parseValue(key, fromFlag, flagName(key));
    else if (fromEnv !== undefined) config[key] = parseValue(key, fromEnv, envName(key));
    else config[key] = parseValue(key, FLAGS[key].default, `default of ${flagName(key)}`);
  }
  return { kind: "run", config: config as Config };
}

/** The configuration with every flag at its default, with some overridden. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const command = parseCommand([], {});
  if (command.kind !== "run") throw new TypeError("Defaults must parse to a run command");
  return { ...command.config, ...overrides };
}

/** The text printed by `--help`. */
export function helpText(version: string): string {
  const width = 22;
  const rows = FLAG_KEYS.map((key) => {
    const spec = FLAGS[key];
    const left = `${flagName(key)} ${spec.placeholder}`;
    const details = `default ${spec.default || "none"}, env ${envName(key)}`;
    return `  ${left.padEnd(width)}${spec.help}\n  ${"".padEnd(width)}${details}`;
  });
  return [
    `vaultmesh-relay ${version}: rendezvous and forwarding of end-to-end-encrypted VaultMesh sync`,
    "",
    "Usage: vaultmesh-relay [flags]",
    "       vaultmesh-relay check <url>   probe a deployed relay like a client; exit 1 on failure",
    "",
    "Flags:",
    ...rows,
    `  ${"-h, --help".padEnd(width)}print this help and exit`,
    `  ${"-V, --version".padEnd(width)}print the version and exit`,
    "",
    "Example: vaultmesh-relay --listen 0.0.0.0:3030 --db /var/lib/vaultmesh-relay/relay.db",
    "Put TLS in front with a reverse proxy (Caddy, nginx); devices use its https:// URL.",
  ].join("\n");
}

/** The flags as a Markdown table, for the README and the download page. */
export function flagsMarkdownTable(): string {
  const lines = [
    "| flag | environment variable | default | meaning |",
    "|---|---|---|---|",
  ];
  for (const key of FLAG_KEYS) {
    const spec = FLAGS[key];
    lines.push(
      `| \`${flagName(key)}\` | \`${envName(key)}\` | ${
        spec.default === "" ? "(none)" : `\`${spec.default}\``
      } | ${spec.help} |`,
    );
  }
  return lines.join("\n");
}
