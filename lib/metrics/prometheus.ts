/**
 * Prometheus metrics of the relay (`npm:prom-client`). Loaded by `lib/metrics/metrics.ts` only when
 * `--metrics-listen` is set: prom-client alone costs about 15 MiB of resident memory.
 *
 * Label values are only route patterns, status codes, error codes, limit names and the operator's
 * shard name: never a vault id, device id or address, so a scrape reveals nothing about who uses
 * the relay.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RelayMode } from "../modes/mode.ts";
import type { LimitName } from "../guard/admission.ts";
import type { MemoryGauges, Metrics, MetricsSources, TableSizes } from "./metrics.ts";

const PREFIX = "vaultmesh_relay_";

function gauge(registry: Registry, name: string, help: string, read: () => number | undefined) {
  return new Gauge({
    name: PREFIX + name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value !== undefined) this.set(value);
    },
  });
}

/** The relay's metrics and the one registry that holds them. */
export class PrometheusMetrics implements Metrics {
  /** The registry to scrape. */
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: PREFIX + "http_requests_total",
    help: "HTTP requests answered, by route pattern and status",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly #authFailures = new Counter({
    name: PREFIX + "auth_failures_total",
    help: "Requests whose authentication failed, by error code",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly #limited = new Counter({
    name: PREFIX + "rate_limited_total",
    help: "Requests turned away by a limit, by limit",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });
  readonly #stored = new Counter({
    name: PREFIX + "envelopes_stored_total",
    help: "Envelopes accepted and stored (store-and-forward)",
    registers: [this.registry],
  });
  readonly #delivered = new Counter({
    name: PREFIX + "envelopes_delivered_total",
    help: "Envelopes handed to devices, live (pushed at send) or from a backlog page",
    labelNames: ["path"] as const,
    registers: [this.registry],
  });
  readonly #expired = new Counter({
    name: PREFIX + "envelopes_expired_total",
    help: "Envelopes deleted because their TTL ended",
    registers: [this.registry],
  });
  readonly #scavenges = new Counter({
    name: PREFIX + "scavenges_total",
    help: "Young-generation collections run after memory.scavengeEveryBytes of buffers",
    registers: [this.registry],
  });
  readonly #heapTrims = new Counter({
    name: PREFIX + "heap_trims_total",
    help: "Times the C heap's free pages were returned to the system (above memory.trimAboveBytes)",
    registers: [this.registry],
  });
  readonly #heapTrimSeconds = new Counter({
    name: PREFIX + "heap_trim_seconds_total",
    help: "Time spent returning the C heap's free pages to the system",
    registers: [this.registry],
  });
  readonly #batchSize = new Histogram({
    name: PREFIX + "sqlite_commit_batch_size",
    help: "Envelopes per SQLite group-commit transaction",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });
  readonly #commitSeconds = new Histogram({
    name: PREFIX + "sqlite_commit_seconds",
    help: "Time of one SQLite group-commit transaction, in seconds",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly #sockets = new Gauge({
    name: PREFIX + "sockets_open",
    help: "WebSocket sessions open",
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    const r = this.registry;
    gauge(
      r,
      "buffered_bytes",
      "Bytes charged for buffered envelopes: bodies plus a fixed overhead each",
      () => sources.totals()?.bytes,
    );
    gauge(r, "buffered_envelopes", "Envelopes buffered", () => sources.totals()?.envelopes);
    gauge(
      r,
      "vaults_with_data",
      "Vaults with buffered envelopes",
      () => sources.totals()?.vaultsWithData,
    );
    gauge(r, "http_requests_in_flight", "HTTP requests being answered", sources.inFlight);
    const memory = (
      name: string,
      help: string,
      read: (figures: MemoryGauges) => number | undefined,
    ) =>
      gauge(r, name, help, () => {
        const figures = sources.memory();
        return figures && read(figures);
      });
    memory(
      "memory_limit_bytes",
      "Memory the relay may use (--memory-limit, the cgroup's or the machine's)",
      (figures) => figures.limitBytes,
    );
    memory(
      "memory_anonymous_bytes",
      "Anonymous resident memory at the memory valve's last check (only under a small limit)",
      (figures) => figures.anonymousBytes,
    );
    memory(
      "memory_pressure",
      "1 while the memory valve refuses new request bodies and socket sends with 503 busy",
      (figures) => figures.underPressure ? 1 : 0,
    );
    const table = (name: string, help: string, read: (sizes: TableSizes) => number) =>
      gauge(r, name, help, () => {
        const sizes = sources.tables();
        return sizes && read(sizes);
      });
    gauge(
      r,
      "connections_open",
      "Client connections open through the gate",
      () => sources.tables()?.connections,
    );
    gauge(
      r,
      "connection_fds",
      "File descriptors client connections hold",
      () => sources.tables()?.connectionFds,
    );
    gauge(
      r,
      "connection_buffer_bytes",
      "Bytes the gate's copy buffers have grown by (connections.pumpBufferBytes bounds it)",
      () => sources.tables()?.connectionBufferBytes,
    );
    table("presence_blobs", "Presence blobs held", (sizes) => sizes.presenceBlobs);
    table("replay_cache_nonces", "Nonces held by the replay cache", (sizes) => sizes.nonces);
    table("long_polls_waiting", "Long polls waiting", (sizes) => sizes.longPolls);
    table(
      "request_bytes_held",
      "Client bytes held in memory: request bodies and socket sends awaiting commit",
      (sizes) => sizes.requestBytes,
    );
    table(
      "socket_queued_bytes",
      "Bytes sockets have queued for readers (each vault's readers share socket.vaultQueueBytes)",
      (sizes) => sizes.socketQueuedBytes,
    );
    gauge(
      r,
      "p2p_reservations",
      "Circuit Relay reservations held",
      () => sources.p2p()?.reservations,
    );
    gauge(r, "p2p_circuits", "Relayed circuits open", () => sources.p2p()?.circuits);
    gauge(
      r,
      "p2p_registrations",
      "Rendezvous registrations live",
      () => sources.p2p()?.registrations,
    );
    gauge(r, "p2p_connections", "libp2p connections open", () => sources.p2p()?.connections);
    new Counter({
      name: PREFIX + "p2p_refusals_total",
      help: "What the libp2p node refused or delayed at a limit, by reason",
      labelNames: ["reason"] as const,
      registers: [r],
      collect() {
        const refusals = sources.p2p()?.refusals;
        if (!refusals) return;
        this.reset();
        for (const [reason, count] of Object.entries(refusals)) this.inc({ reason }, count);
      },
    });
    if (sources.shardName !== undefined) {
      // The usual info-metric shape: join on it to tell shards apart without a label on every series.
      new Gauge({
        name: PREFIX + "shard_info",
        help: "Which relay this is among several behind one URL (--shard-name); always 1",
        labelNames: ["shard"] as const,
        registers: [r],
      }).set({ shard: sources.shardName }, 1);
    }
  }

  /** Counts an answered request. `route` is the route pattern or `unmatched`. */
  request(route: string, status: number): void {
    this.#requests.inc({ route, status: String(status) });
  }

  /** Counts a failed authentication by its error code. */
  authFailure(code: string): void {
    this.#authFailures.inc({ reason: code });
  }

  /** Counts a request turned away by `limit`. */
  limited(limit: LimitName): void {
    this.#limited.inc({ limit });
  }

  /** Records one group commit. */
  commit(batchSize: number, milliseconds: number): void {
    this.#batchSize.observe(batchSize);
    this.#commitSeconds.observe(milliseconds / 1000);
  }

  /** Counts envelopes deleted by the expiry sweep. */
  expired(count: number): void {
    this.#expired.inc(count);
  }

  /** Sets the number of open WebSocket sessions; the socket code calls it as they come and go. */
  setSocketsOpen(count: number): void {
    this.#sockets.set(count);
  }

  /** Counts a young-generation collection run to free dead buffers. */
  scavenged(): void {
    this.#scavenges.inc();
  }

  /** Counts a trim of the C heap that took `milliseconds`. */
  heapTrimmed(milliseconds: number): void {
    this.#heapTrims.inc();
    this.#heapTrimSeconds.inc(milliseconds / 1000);
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Wraps `mode` so sends and deliveries are counted. */
  instrument(mode: RelayMode): RelayMode {
    const stored = this.#stored;
    const delivered = this.#delivered;
    return {
      ...mode,
      name: mode.name,
      buffering: mode.buffering,
      async send(request) {
        const outcome = await mode.send(request);
        if (outcome.kind === "stored") stored.inc();
        if (outcome.kind === "stored" || outcome.kind === "delivered") {
          delivered.inc({ path: "live" }, outcome.recipients);
        }
        return outcome;
      },
      async backlog(query) {
        const page = await mode.backlog(query);
        delivered.inc({ path: "backlog" }, page.envelopes.length);
        return page;
      },
    };
  }
}
