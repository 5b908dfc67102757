/**
 * The relay's metrics as the rest of the relay sees them: an interface and a no-op used when
 * metrics are off (the default). `load.ts` picks the implementation; `endpoint.ts` serves scrapes.
 *
 * @module
 */
import type { RelayMode } from "../modes/mode.ts";
import type { StoreTotals } from "../protocol/envelope.ts";
import type { P2pStats } from "../p2p/node.ts";
import type { LimitName } from "../guard/admission.ts";

/** The fill of the bounded tables clients can grow (see lib/limits.ts). */
export interface TableSizes {
  /** Client connections open through the gate (undefined without it). */
  readonly connections: number | undefined;
  /** Descriptors those connections hold. */
  readonly connectionFds: number | undefined;
  /** Bytes the gate's copy buffers have grown by. */
  readonly connectionBufferBytes: number | undefined;
  /** Presence blobs held. */
  readonly presenceBlobs: number;
  /** Nonces in the replay cache. */
  readonly nonces: number;
  /** Long polls waiting. */
  readonly longPolls: number;
  /** Client bytes held in memory (request bodies, socket sends awaiting commit). */
  readonly requestBytes: number;
  /** Bytes sockets have queued and not yet handed to the network (slow readers). */
  readonly socketQueuedBytes: number;
}

/** Memory figures (see `guard/memory_valve.ts`). */
export interface MemoryGauges {
  /** The memory the relay may use (`limits.memory.limitBytes`). */
  readonly limitBytes: number;
  /** Anonymous memory at the valve's last check; undefined while no valve runs. */
  readonly anonymousBytes: number | undefined;
  /** Whether the valve refuses new request bodies and socket sends now. */
  readonly underPressure: boolean;
}

/** Where gauges read their values at scrape time. */
export interface MetricsSources {
  /** Store totals of the mode, or `undefined` while none is running. */
  totals(): StoreTotals | undefined;
  /** libp2p counts, or `undefined` with `--p2p-port 0`. */
  p2p(): P2pStats | undefined;
  /** HTTP requests in flight. */
  inFlight(): number;
  /** How full the relay's bounded tables are, or `undefined` before it runs. */
  tables(): TableSizes | undefined;
  /** The memory limit and the valve's last reading, or `undefined` before the relay runs. */
  memory(): MemoryGauges | undefined;
  /** This relay's name among shards (`--shard-name`), the label of the shard info metric. */
  readonly shardName?: string;
}

/** What the relay records. */
export interface Metrics {
  /** Counts an answered request. `route` is the route pattern or `unmatched`. */
  request(route: string, status: number): void;
  /** Counts a failed authentication by its error code. */
  authFailure(code: string): void;
  /** Counts a request turned away by `limit`. */
  limited(limit: LimitName): void;
  /** Records one group commit. */
  commit(batchSize: number, milliseconds: number): void;
  /** Counts envelopes deleted by the expiry sweep. */
  expired(count: number): void;
  /** Sets the number of open WebSocket sessions. */
  setSocketsOpen(count: number): void;
  /** Counts a young-generation collection run to free dead buffers. */
  scavenged(): void;
  /** Counts a trim of the C heap (`guard/native_heap.ts`) that took `milliseconds`. */
  heapTrimmed(milliseconds: number): void;
  /** Wraps `mode` so sends and deliveries are counted. */
  instrument(mode: RelayMode): RelayMode;
  /** The exposition text. */
  text(): Promise<string>;
  /** The exposition format's content type. */
  readonly contentType: string;
}

/** Metrics that record nothing: metrics are off. */
export const NO_METRICS: Metrics = {
  request: () => {},
  authFailure: () => {},
  limited: () => {},
  commit: () => {},
  expired: () => {},
  setSocketsOpen: () => {},
  scavenged: () => {},
  heapTrimmed: () => {},
  instrument: (mode) => mode,
  text: () => Promise.resolve(""),
  contentType: "text/plain; version=0.0.4",
};
