/**
 * The start-up banner an operator reads in the terminal or the journal.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { identityFilePath } from "../p2p/key_file.ts";

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname.startsWith("127.");
}

function formatBytes(bytes: number): string {
  const mib = bytes / 1024 ** 2;
  return Number.isInteger(mib) ? `${bytes} bytes (${mib} MiB)` : `${bytes} bytes`;
}

/** What a stateless relay keeps instead of a database: nothing, or its libp2p key. */
function statelessState(config: Config): string {
  const keyFile = identityFilePath(config.db) ?? "memory";
  const key = config.p2pPort === 0 ? "" : `; libp2p key in ${keyFile}`;
  return `none (stateless: envelopes and rendezvous registrations stay in memory${key})`;
}

/** What the banner says about memory (see `limits.memory`). */
export interface MemoryBanner {
  readonly bytes: number;
  readonly source: "flag" | "cgroup" | "machine";
  readonly budgetScale: number;
  /** Whether the memory valve runs (`guard/memory_valve.ts`). */
  readonly valve: boolean;
}

/** The banner's memory line: the limit, its source, and what it changes. */
function memoryLine(memory: MemoryBanner): string {
  const mib = Math.round(memory.bytes / 1024 ** 2);
  const source = memory.source === "flag"
    ? "--memory-limit"
    : memory.source === "cgroup"
    ? "the memory cgroup's"
    : "the machine's";
  if (memory.budgetScale >= 1) return `  memory      ${mib} MiB (${source})`;
  const share = `in-flight budgets at ${Number((memory.budgetScale * 100).toFixed(1))} %`;
  return `  memory      ${mib} MiB (${source}): ${share}` +
    (memory.valve ? ", memory valve on" : "");
}

/**
 * The banner's lines: version, where it listens, mode, database, the storage bounds (in
 * store-and-forward mode, where they apply), p2p, and TLS advice for a public address.
 */
export function bannerLines(
  options: {
    version: string;
    config: Config;
    address: Deno.NetAddr;
    /** Full libp2p multiaddrs (with `/p2p/<peer id>`) when p2p runs. */
    p2pAddresses?: readonly string[];
    /** The database cap in effect (`--max-db-size`, resolved when `auto`). */
    maxDbBytes?: number;
    /** The open-file limit the connection budget comes from, and where it came from. */
    openFiles?: { limit: number; source: "flag" | "process" | "assumed" };
    /** The memory limit, where it came from, the share of the full budgets it allows, and
     * whether the memory valve runs. */
    memory?: MemoryBanner;
  },
): string[] {
  const { version, config, address } = options;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  const buffering = config.mode !== "stateless";
  const p2pHost = config.p2pListen.includes(":") ? `[${config.p2pListen}]` : config.p2pListen;
  const lines = [
    `VaultMesh Relay ${version}`,
    `  listening   http://${host}:${address.port}`,
    `  mode        ${config.mode} (buffering ${buffering ? "enabled" : "disabled"})`,
    buffering ? `  database    ${config.db}` : `  database    ${statelessState(config)}`,
    // TTL and the vault buffer only bound stored envelopes; stateless mode stores none.
    ...(buffering
      ? [
        `  ttl         ${config.ttlHours} h`,
        `  max buffer  ${formatBytes(config.maxBuffer)} per vault`,
        ...(options.maxDbBytes === undefined ? [] : [
          `  max db      ${formatBytes(options.maxDbBytes)}${config.maxDbSize ? "" : " (auto)"}`,
        ]),
      ]
      : []),
    `  p2p         ${config.p2pPort === 0 ? "disabled" : `port ${config.p2pPort} on ${p2pHost}`}`,
    ...(options.p2pAddresses ?? []).map((addr) => `  p2p addr    ${addr}`),
  ];
  if (options.openFiles) {
    const { limit, source } = options.openFiles;
    lines.push(
      `  open files  ${limit}` +
        (source === "assumed"
          ? " (assumed: the limit cannot be read without --allow-all; set --max-open-files)"
          : source === "flag"
          ? " (--max-open-files)"
          : ""),
    );
  }
  if (options.memory) lines.push(memoryLine(options.memory));
  lines.push(
    config.publicUrl
      ? `  public url  ${config.publicUrl.origin} (signatures for other hosts are refused)`
      : "  public url  not set: signatures made for any host are accepted (set --public-url " +
        "to the https:// URL devices use)",
  );
  if (!isLoopback(address.hostname)) {
    lines.push(
      "  warning     plain HTTP on a public address: put TLS in front with a reverse proxy " +
        "(Caddy, nginx) and give devices its https:// URL",
    );
  }
  return lines;
}
