/**
 * The flag table: every command-line flag of the relay, defined once.
 *
 * {@linkcode FLAGS} drives parsing (`parse.ts`), `--help` and the README table (`help.ts`), the
 * `VAULTMESH_RELAY_*` environment variables and the download page. Its order is the order of
 * `--help`, group by group as {@linkcode FLAG_GROUPS} lists them.
 *
 * @module
 */
import {
  autoByteSize,
  bindHost,
  byteSize,
  CHECKPOINTERS,
  choice,
  filePath,
  listenAddress,
  LOG_FORMATS,
  LOG_LEVELS,
  MODES,
  multiaddrList,
  optionalListenAddress,
  port,
  publicUrl,
  shardName,
  token,
  trustedProxies,
  wholeNumber,
} from "./value_types.ts";
import { flag, type FlagSpec } from "./flag_spec.ts";
import { LIMIT_FLAGS } from "./limit_flags.ts";

export { FLAG_GROUPS, type FlagGroup, type FlagSpec } from "./flag_spec.ts";

/** The flag table, in `--help` order. Keys are camelCase; the flag is its kebab-case form. */
export const FLAGS = {
  listen: flag({
    group: "server",
    default: "0.0.0.0:3030",
    help: "HTTP API listen address",
    ...listenAddress,
  }),
  mode: flag({
    group: "server",
    default: "store-and-forward",
    help: "store-and-forward (persistent) or stateless",
    ...choice("MODE", MODES),
  }),
  publicUrl: flag({
    group: "server",
    default: "",
    help: "the https:// URL devices use; signatures made for another host are refused " +
      "(empty: any host is accepted, with a warning at start)",
    ...publicUrl,
  }),
  trustProxy: flag({
    group: "server",
    default: "",
    help:
      "comma-separated proxy IPs/CIDRs whose X-Forwarded-For or Forwarded header names the client",
    ...trustedProxies,
  }),
  shardName: flag({
    group: "server",
    default: "",
    help: "this relay's name among several behind one --public-url, sent in the " +
      "X-VaultMesh-Shard header and shown on the status page and in metrics " +
      "(empty: the host name)",
    ...shardName,
  }),
  db: flag({
    group: "storage",
    default: "relay.db",
    help: "SQLite database path for persistent storage (its folder must exist); stateless mode " +
      "opens none and keeps only its libp2p key beside it (relay.db: relay.p2p-key)",
    ...filePath,
  }),
  ttlHours: flag({
    group: "storage",
    default: "72",
    help: "message TTL in hours",
    ...wholeNumber({ min: 1, max: 8760, unit: "hours" }),
  }),
  maxBuffer: flag({
    group: "storage",
    default: "10485760",
    help: "maximum buffered bytes per vault",
    ...byteSize("10MiB"),
  }),
  maxDbSize: flag({
    group: "storage",
    default: "auto",
    help: "largest size of the database; sends beyond it get 507 storage_full " +
      "(auto: half the free disk space at start, at most 16 GiB)",
    ...autoByteSize("4GiB"),
  }),
  checkpoint: flag({
    group: "storage",
    default: "relay",
    help: "who checkpoints the SQLite write-ahead log: relay (SQLite's automatic checkpoints and " +
      "a final one at stop) or external (never the relay: Litestream, which must be the only " +
      "checkpointer, does it)",
    ...choice("WHO", CHECKPOINTERS),
  }),
  p2pPort: flag({
    group: "p2p",
    default: "4001",
    help: "libp2p Circuit Relay listen port; 0 disables",
    ...port(0),
  }),
  p2pListen: flag({
    group: "p2p",
    default: "0.0.0.0",
    help:
      "address the libp2p listener binds, independent of --listen; 0.0.0.0 is every interface (IPv4 and the machine's IPv6 addresses)",
    ...bindHost,
  }),
  p2pAnnounce: flag({
    group: "p2p",
    default: "",
    help: "comma-separated multiaddrs the libp2p relay announces (its public addresses behind NAT)",
    ...multiaddrList,
  }),
  p2pMaxReservations: flag({
    group: "p2p",
    default: "128",
    help: "maximum Circuit Relay reservations held at once",
    ...wholeNumber({ min: 1, max: 1_000_000 }),
  }),
  p2pMaxReservationsPerIp: flag({
    group: "p2p",
    default: "4",
    help: "maximum Circuit Relay reservations from one IPv4 address or IPv6 /64",
    ...wholeNumber({ min: 1, max: 1_000_000 }),
  }),
  p2pReservationTtl: flag({
    group: "p2p",
    default: "3600",
    help: "how long a Circuit Relay reservation lasts unless refreshed, in seconds",
    ...wholeNumber({ min: 60, max: 86400, unit: "seconds" }),
  }),
  p2pMaxCircuits: flag({
    group: "p2p",
    default: "16",
    help: "maximum relayed circuits open at once to one reserving peer",
    ...wholeNumber({ min: 1, max: 100_000 }),
  }),
  p2pCircuitBytes: flag({
    group: "p2p",
    default: "131072",
    help: "bytes one relayed circuit may carry (both directions) before it is closed",
    ...byteSize("128KiB"),
  }),
  p2pCircuitSeconds: flag({
    group: "p2p",
    default: "120",
    help: "seconds one relayed circuit may stay open",
    ...wholeNumber({ min: 1, max: 86400, unit: "seconds" }),
  }),
  p2pMaxRegistrations: flag({
    group: "p2p",
    default: "10000",
    help: "maximum rendezvous registrations held at once",
    ...wholeNumber({ min: 1, max: 10_000_000 }),
  }),
  p2pMaxRegistrationsPerPeer: flag({
    group: "p2p",
    default: "32",
    help: "maximum rendezvous registrations of one peer",
    ...wholeNumber({ min: 1, max: 1_000_000 }),
  }),
  ...LIMIT_FLAGS,
  logLevel: flag({
    group: "operations",
    default: "info",
    help: "least severe log level written: debug, info, warning or error",
    ...choice("LEVEL", LOG_LEVELS),
  }),
  logFormat: flag({
    group: "operations",
    default: "text",
    help: "log format: text for people, json for one JSON object per line",
    ...choice("FORMAT", LOG_FORMATS),
  }),
  metricsListen: flag({
    group: "operations",
    default: "",
    help: "listen address of the Prometheus /metrics endpoint; empty keeps metrics off",
    ...optionalListenAddress,
  }),
  metricsToken: flag({
    group: "operations",
    default: "",
    help: "bearer token a scraper must send to /metrics; empty for none",
    ...token,
  }),
} as const;

/** Key of a flag in {@linkcode FLAGS}. */
export type FlagKey = keyof typeof FLAGS;

/** The relay's configuration: one parsed value per flag. */
export type Config = {
  readonly [K in FlagKey]: typeof FLAGS[K] extends FlagSpec<infer T> ? T : never;
};

/** Every flag key, in table order. */
export const FLAG_KEYS = Object.keys(FLAGS) as FlagKey[];

/**
 * The command-line form of a key.
 *
 * @example
 * ```ts
 * flagName("ttlHours"); // "--ttl-hours"
 * ```
 */
export function flagName(key: FlagKey): string {
  return "--" + key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
}

/**
 * The environment variable of a key.
 *
 * @example
 * ```ts
 * envName("ttlHours"); // "VAULTMESH_RELAY_TTL_HOURS"
 * ```
 */
export function envName(key: FlagKey): string {
  return "VAULTMESH_RELAY_" + flagName(key).slice(2).replaceAll("-", "_").toUpperCase();
}
