/**
 * The relay as one object: opens the database (store-and-forward only: stateless mode keeps
 * none), picks the mode, serves HTTP, and stops all of it in the right order.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config/mod.ts";
import { Database } from "./store/database.ts";
import type { RelayMode } from "./modes/mode.ts";
import { createMode } from "./modes/create.ts";
import { createApi } from "./http/api.ts";
import { LOG_CATEGORY } from "./log.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Hub } from "./live/hub.ts";
import { Authenticator } from "./http/signatures.ts";
import { NonceCache } from "./guard/nonce_cache.ts";
import { VaultKeys } from "./guard/vault_keys.ts";
import { SocketRegistry } from "./live/registry.ts";
import type { DeviceSession } from "./live/session.ts";
import { PresenceBoard } from "./live/presence.ts";
import type { P2pNode } from "./p2p/node.ts";
import { createOperations, type Operations } from "./guard/operations.ts";
import type { Metrics, TableSizes } from "./metrics/metrics.ts";
import { loadMetrics } from "./metrics/load.ts";
import { exposedCollection, scavenging } from "./guard/scavenge_pacer.ts";
import { serveMetrics } from "./metrics/endpoint.ts";
import { addressKey, clientAddress } from "./guard/client_address.ts";
import { type Limits, relayLimits } from "./limits.ts";
import { resolveMaxDbBytes } from "./store/disk.ts";
import { fdBudget } from "./guard/fd_budget.ts";
import { resolveMemoryLimit } from "./guard/memory_limit.ts";
import { NativeHeap } from "./guard/native_heap.ts";
import { MemoryValve } from "./guard/memory_valve.ts";
import { type HttpListener, listen } from "./http/listen.ts";
import { authorityOf } from "./protocol/signature_base.ts";

const log = getLogger([LOG_CATEGORY, "relay"]);

/** Options for {@linkcode Relay.start} beyond the configuration; tests use them. */
export interface RelayOptions {
  /** The clock for TTLs and signature windows. */
  readonly clock?: Clock;
  /** Changes the relay's bounds, e.g. to drive one to its limit in a test. */
  readonly adjustLimits?: (limits: Limits) => Limits;
}

/** SQLite's default page size, which the relay's database keeps. */
const PAGE_SIZE_BYTES = 4096;

/** The limits with the test overrides of `options` applied. */
function withOverrides(limits: Limits, options: RelayOptions): Limits {
  return options.adjustLimits?.(limits) ?? limits;
}

/** The C heap and the valve that keep a relay under a small memory limit. */
interface MemoryKeeper {
  readonly heap: NativeHeap;
  readonly valve: MemoryValve;
}

/**
 * Under a memory limit that scales the budgets down, tunes the C heap and starts the memory
 * valve (`guard/memory_valve.ts`); undefined when the limit is large or there is no glibc.
 */
function keepMemorySmall(limits: Limits, metrics: Metrics): MemoryKeeper | undefined {
  if (limits.memory.checkEveryMs === 0) return undefined;
  const heap = NativeHeap.open();
  if (!heap) {
    log.debug("No glibc to tune here (or no --allow-ffi): the scaled budgets alone bound memory");
    return undefined;
  }
  heap.tuneForSmallMemory();
  const valve = new MemoryValve(limits.memory, heap, {
    collect: exposedCollection("major"),
    onTrim: (milliseconds) => metrics.heapTrimmed(milliseconds),
  });
  valve.start();
  return { heap, valve };
}

/** Stops a memory keeper's valve and unloads its library. */
function closeKeeper(keeper: MemoryKeeper | undefined): void {
  keeper?.valve.close();
  keeper?.heap.close();
}

/** Starts the libp2p node when enabled; libp2p is imported only then, to keep it out of memory. */
async function startP2p(relay: Relay, clock: Clock): Promise<P2pNode | undefined> {
  const { config, database, limits } = relay;
  if (config.p2pPort === 0) return undefined;
  const { startP2pNode } = await import("./p2p/node.ts");
  return await startP2pNode({ config, limits: limits.p2p, database, now: () => clock.now() });
}

/** A running relay. Start with {@linkcode Relay.start}; stop with {@linkcode Relay.stop}. */
export class Relay implements AsyncDisposable {
  #stopping: Promise<void> | undefined;
  #p2p: P2pNode | undefined;
  #metricsServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  #keeper: MemoryKeeper | undefined;

  /** The configuration it runs with. */
  readonly config: Config;
  /** Every bound it enforces. */
  readonly limits: Limits;
  /** The open database; stateless mode has none. */
  readonly database: Database | undefined;
  /** The selected mode. */
  readonly mode: RelayMode;
  /** Open device sockets. */
  readonly sockets: SocketRegistry<DeviceSession>;
  /** Limits and metrics around the API. */
  readonly operations: Operations;
  /** How full the bounded tables are, for metrics. */
  readonly tableSizes: () => TableSizes;
  private readonly server: HttpListener;

  private constructor(parts: {
    config: Config;
    limits: Limits;
    database: Database | undefined;
    mode: RelayMode;
    server: HttpListener;
    sockets: SocketRegistry<DeviceSession>;
    operations: Operations;
    tableSizes: () => TableSizes;
  }) {
    this.config = parts.config;
    this.limits = parts.limits;
    this.database = parts.database;
    this.mode = parts.mode;
    this.server = parts.server;
    this.sockets = parts.sockets;
    this.operations = parts.operations;
    this.tableSizes = parts.tableSizes;
  }

  /**
   * Opens the database, creates the mode and starts serving HTTP on `config.listen`.
   *
   * @throws {DatabaseRefusedError} when the database cannot be used.
   * @throws {Deno.errors.AddrInUse} when the listen address is taken.
   */
  static async start(config: Config, options: RelayOptions = {}): Promise<Relay> {
    const clock = options.clock ?? systemClock;
    let running: Relay | undefined;
    const metrics = await loadMetrics(Boolean(config.metricsListen), {
      // A deleted or replaced database answers no reads; the gauges keep their last values.
      totals: () =>
        running?.database?.fault?.readable === false ? undefined : running?.mode.totals(),
      p2p: () => running?.p2p?.stats(),
      inFlight: () => running?.operations.admission.inFlight ?? 0,
      tables: () => running?.tableSizes(),
      memory: () =>
        running && {
          limitBytes: running.limits.memory.limitBytes,
          anonymousBytes: running.memoryValve?.lastBytes,
          underPressure: running.memoryValve?.underPressure ?? false,
        },
      shardName: config.shardName,
    });
    const relay = running = Relay.#startHttp(config, { clock, metrics, options });
    try {
      relay.#p2p = await startP2p(relay, clock);
    } catch (error) {
      await relay.stop();
      throw error;
    }
    return relay;
  }

  static #startHttp(
    config: Config,
    parts: { clock: Clock; metrics: Metrics; options: RelayOptions },
  ): Relay {
    const { clock, metrics, options } = parts;
    const database = config.mode === "stateless"
      ? undefined
      : Database.open(config.db, { checkpoint: config.checkpoint });
    const maxDbBytes = database ? resolveMaxDbBytes(config.maxDbSize, config.db) : 0;
    const fds = fdBudget(config.maxOpenFiles, { p2p: config.p2pPort !== 0 });
    const memory = resolveMemoryLimit(config.memoryLimit);
    const limits = withOverrides(relayLimits(config, { maxDbBytes, fds, memory }), options);
    scavenging.configure(limits.memory.scavengeEveryBytes, {
      onScavenged: () => metrics.scavenged(),
    });
    // A backstop under the store's own accounting: the file itself cannot outgrow the cap.
    database?.setMaxPageCount(Math.max(1, Math.floor(maxDbBytes / PAGE_SIZE_BYTES)));
    database?.setCacheBytes(limits.storage.cacheBytes);
    const keeper = keepMemorySmall(limits, metrics);
    let relay: Relay | undefined;
    try {
      database?.watch(limits.storage.checkIntervalMs);
      const hub = new Hub();
      const operations = createOperations(config, {
        clock,
        metrics,
        limits,
        underPressure: () => keeper?.valve.underPressure ?? false,
      });
      const mode = createMode(config.mode, {
        database,
        clock,
        hub,
        limits: limits.modes,
        metrics,
        chargeNewVault: operations.chargeNewVault,
      });
      const keys = new VaultKeys(limits.signatures.keyCacheEntries);
      const nonces = new NonceCache(clock, {
        perVault: limits.signatures.noncesPerVault,
        perAddress: limits.signatures.noncesPerAddress,
        total: limits.signatures.noncesTotal,
      });
      const presence = new PresenceBoard(clock, limits.presence);
      const publicAuthority = config.publicUrl ? authorityOf(config.publicUrl.host) : null;
      const sockets = new SocketRegistry<DeviceSession>((count) => metrics.setSocketsOpen(count));
      let listener: HttpListener | undefined;
      const api = createApi({
        mode,
        hub,
        presence,
        auth: new Authenticator(clock, nonces, keys, publicAuthority),
        publicAuthority,
        authHooks: operations.authHooks,
        routerHooks: operations.routerHooks,
        httpLimits: limits.http,
        longPolls: operations.longPolls,
        session: {
          mode,
          hub,
          presence,
          clock,
          keys,
          limits: limits.socket,
          onControl: operations.chargeVault,
          memory: operations.memory,
          onLimited: (limit) => metrics.limited(limit),
        },
        sockets,
        // Requests come in only once the listener below exists.
        upgradeSocket: (request, protocol) => listener!.upgradeSocket(request, protocol),
        clientAddress: ({ request, info }) => clientAddress(request, info, config.trustProxy),
        addressOf: ({ request, info }) =>
          addressKey(clientAddress(request, info, config.trustProxy).hostname),
        storageFault: () => database?.fault?.reason,
        shardName: config.shardName,
      });
      const server = listener = listen({
        hostname: config.listen.hostname,
        port: config.listen.port,
        backlog: limits.connections.listenBacklog,
        gate: gateEnabled(config) && {
          fdBudget: limits.connections.httpFds,
          headerTimeoutMs: limits.connections.headerTimeoutMs,
          maxHeadBytes: limits.connections.maxHeadBytes,
          pumpBufferBytes: limits.connections.pumpBufferBytes,
          answerPlainRequests: limits.connections.answerPlainRequests,
          socketTeardownMs: limits.connections.socketTeardownMs,
          closeAfterRefusalMs: limits.connections.closeAfterRefusalMs,
          socket: {
            unauthenticatedMessageBytes: limits.socket.maxUnauthenticatedMessageBytes,
            messageBytes: limits.socket.maxMessageBytes,
            queuedBytes: limits.socket.maxQueuedBytes,
          },
        },
        handler: (request, info) => api.handle(request, info),
        onGateEvent: (event) => metrics.limited(event),
        refuseHead: operations.refuseHead,
      });
      const tableSizes = () => ({
        connections: server.stats()?.connections,
        connectionFds: server.stats()?.fds,
        connectionBufferBytes: server.stats()?.bufferBytes,
        presenceBlobs: presence.size,
        nonces: nonces.size,
        longPolls: operations.longPolls.size,
        requestBytes: operations.memory.used,
        socketQueuedBytes: sockets.queuedBytes,
      });
      relay = new Relay({
        config,
        limits,
        database,
        mode,
        server,
        sockets,
        operations,
        tableSizes,
      });
      relay.#metricsServer = config.metricsListen
        ? serveMetrics(config.metricsListen, { metrics, token: config.metricsToken })
        : undefined;
      relay.#keeper = keeper;
      return relay;
    } catch (error) {
      if (relay) void relay.server.shutdown();
      closeKeeper(keeper);
      database?.close();
      throw error;
    }
  }

  /** The address the HTTP server is bound to (with the real port when 0 was asked for). */
  get address(): Deno.NetAddr {
    return this.server.addr;
  }

  /** The relay's metrics (the socket code sets its gauge through it). */
  get metrics(): Metrics {
    return this.operations.metrics;
  }

  /** The address `/metrics` is served on, when `--metrics-listen` is set. */
  get metricsAddress(): Deno.NetAddr | undefined {
    return this.#metricsServer?.addr;
  }

  /** The memory valve, when the relay runs under a small limit on Linux with glibc. */
  get memoryValve(): MemoryValve | undefined {
    return this.#keeper?.valve;
  }

  /** The libp2p node, when `--p2p-port` is not 0. */
  get p2p(): P2pNode | undefined {
    return this.#p2p;
  }

  /** `http://host:port` of the HTTP API, usable from this machine. */
  get url(): string {
    const { hostname, port } = this.address;
    const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "[::1]" : hostname;
    return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish, closes the mode, checkpoints
   * the write-ahead log and closes the database. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    log.info("Stopping: no new connections, finishing requests in flight");
    await this.sockets.closeAll(this.limits.socket.closeWaitMs);
    await this.server.shutdown();
    await this.#metricsServer?.shutdown();
    // Before the database closes: the node's rendezvous server writes to it.
    await this.#p2p?.stop();
    await this.mode.close();
    this.database?.close();
    closeKeeper(this.#keeper);
    log.info("Stopped cleanly");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Whether connections go through the gate: `auto` turns it on unless a trusted proxy is named,
 * because a proxy in front (nginx, Caddy) already bounds connections and the gate costs time.
 */
function gateEnabled(config: Config): boolean {
  if (config.connectionGate === "auto") return config.trustProxy.length === 0;
  return config.connectionGate === "on";
}
