/**
 * The flags of the "limits" group: the bounds an operator tunes. Part of the flag table in
 * `flags.ts`, kept apart because the table is long.
 *
 * @module
 */
import { flag } from "./flag_spec.ts";
import {
  autoByteSize,
  autoWholeNumber,
  byteSize,
  choice,
  rateLimit,
  wholeNumber,
} from "./value_types.ts";

/** The limits flags, in `--help` order. */
export const LIMIT_FLAGS = {
  maxEnvelope: flag({
    group: "limits",
    default: "1MiB",
    help: "largest envelope accepted, answered with 413 above it",
    ...byteSize("1MiB"),
  }),
  rateLimitIp: flag({
    group: "limits",
    default: "20/100",
    help: "requests per second (and burst) from one client address, before authentication; 0 off",
    ...rateLimit("20/100"),
  }),
  rateLimitVault: flag({
    group: "limits",
    default: "50/200",
    help:
      "requests per second (and burst) of one vault, counted after its signature verified; 0 off",
    ...rateLimit("50/200"),
  }),
  rateLimitNewVaults: flag({
    group: "limits",
    default: "1/100",
    help: "vaults one client address may create per second (and burst): a new key is free, " +
      "a vault's quota is not; 0 off",
    ...rateLimit("1/100"),
  }),
  maxConnections: flag({
    group: "limits",
    default: "4096",
    help: "HTTP requests in flight at once (long polls included); 503 beyond it",
    ...wholeNumber({ min: 1, max: 1_000_000 }),
  }),
  maxConnectionsPerIp: flag({
    group: "limits",
    default: "64",
    help: "HTTP requests in flight at once from one client address; 429 beyond it",
    ...wholeNumber({ min: 1, max: 1_000_000 }),
  }),
  maxSocketsPerVault: flag({
    group: "limits",
    default: "32",
    help: "authenticated sockets open at once for one vault; more are closed with 4029",
    ...wholeNumber({ min: 1, max: 100_000 }),
  }),
  socketIdleTimeout: flag({
    group: "limits",
    default: "60",
    help: "seconds between pings on an idle socket; one unanswered ping closes it (0 disables)",
    ...wholeNumber({ min: 0, max: 3600, unit: "seconds" }),
  }),
  maxOpenFiles: flag({
    group: "limits",
    default: "auto",
    help: "the process's open-file limit; 80 % of it is the budget of client connections " +
      "(auto: read it, which needs --allow-all; else 1024 is assumed and the banner says so)",
    ...autoWholeNumber({ min: 64, max: 100_000_000 }),
  }),
  memoryLimit: flag({
    group: "limits",
    default: "auto",
    help: "memory the relay may use (systemd's MemoryMax=); below 512 MiB the bytes it holds in " +
      "flight for clients shrink with it, to an eighth at 64 MiB, and on Linux it returns freed " +
      "memory to the system and answers new sends 503 busy near the limit (auto: the memory " +
      "cgroup's limit, which needs --allow-all to read, else the machine's memory)",
    ...autoByteSize("64MiB"),
  }),
  connectionGate: flag({
    group: "limits",
    default: "auto",
    help: "accept connections through the relay's gate (descriptor budget, 10 s header deadline, " +
      "teardown of ignored socket closes); off serves directly, faster, for a relay behind a " +
      "proxy that bounds connections; auto: on unless --trust-proxy names such a proxy",
    ...choice("MODE", ["auto", "on", "off"] as const),
  }),
  maxHeaderBytes: flag({
    group: "limits",
    default: "16KiB",
    help: "largest total size of a request's header names and values; 431 above it",
    ...byteSize("16KiB"),
  }),
  bodyTimeout: flag({
    group: "limits",
    default: "30",
    help: "seconds a request body may take to arrive; 408 after it",
    ...wholeNumber({ min: 1, max: 3600, unit: "seconds" }),
  }),
} as const;
