/**
 * Picks the metrics implementation: Prometheus (`npm:prom-client`, about 15 MiB) is imported only
 * when `--metrics-listen` is set.
 *
 * @module
 */
import { type Metrics, type MetricsSources, NO_METRICS } from "./metrics.ts";

/** Prometheus metrics when `enabled`, else {@linkcode NO_METRICS} (prom-client is not loaded). */
export async function loadMetrics(enabled: boolean, sources: MetricsSources): Promise<Metrics> {
  if (!enabled) return NO_METRICS;
  const { PrometheusMetrics } = await import("./prometheus.ts");
  return new PrometheusMetrics(sources);
}
