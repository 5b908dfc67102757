/**
 * The relay's metrics as the rest of the relay sees them: an interface, a no-op used when
 * metrics are off (the default), the Prometheus implementation loaded only when
 * `--metrics-listen` is set, and the scrape endpoint.
 *
 * @module
 */
import type { RelayMode, StoreTotals } from "../modes/mode.ts";
import type { P2pStats } from "../p2p/node.ts";
import type { LimitName } from "../guard/admission.ts";

/** Where gauges read their values at scrape time. */
export interface MetricsSources {
  /** Store totals of the mode, or `undefined` while none is running. */
  totals(): StoreTotals | undefined;
  /** libp2p counts, or `undefined` with `--p2p-port 0`. */
  p2p(): P2pStats | undefined;
  /** HTTP requests in flight. */
  inFlight(): number;
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
  instrument: (mode) => mode,
  text: () => Promise.resolve(""),
  contentType: "text/plain; version=0.0.4",
};

/** Prometheus metrics when `enabled`, else {@linkcode NO_METRICS} (prom-client is not loaded). */
export async function loadMetrics(enabled: boolean, sources: MetricsSources): Promise<Metrics> {
  if (!enabled) return NO_METRICS;
  const { PrometheusMetrics } = await import("./prometheus.ts");
  return new PrometheusMetrics(sources);
}

function sameToken(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i]!;
  return difference === 0;
}

/** Answers a scrape: `GET /metrics`, with `Authorization: Bearer <token>` when a token is set. */
export async function metricsResponse(
  request: Request,
  options: { metrics: Metrics; token: string },
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname !== "/metrics") return new Response("Not found: scrape /metrics\n", { status: 404 });
  if (request.method !== "GET") return new Response("Use GET\n", { status: 405 });
  const given = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
  if (options.token !== "" && !sameToken(given, options.token)) {
    return new Response("Send Authorization: Bearer <--metrics-token>\n", {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="metrics"' },
    });
  }
  return new Response(await options.metrics.text(), {
    headers: { "content-type": options.metrics.contentType },
  });
}
