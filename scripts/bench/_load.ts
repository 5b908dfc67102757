/**
 * Shared pieces of the benchmark scenarios: a closed-loop load generator, percentiles, table
 * and JSON output, and resident memory of a process.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loopbackRelayFlags, type RelayProcess, spawnRelay } from "../relay_process.ts";

/**
 * Relay flags for benchmarks: the load comes from one loopback address, so the per-address and
 * per-vault limits (which protect a public relay) are lifted to measure the relay itself.
 */
export const UNLIMITED = [
  "--rate-limit-ip",
  "0",
  "--rate-limit-vault",
  "0",
  "--rate-limit-new-vaults",
  "0",
  "--max-connections-per-ip",
  "1000000",
] as const;

/**
 * Starts a relay from source for a benchmark: loopback, port 0, its database in `dir`, p2p off,
 * per-address limits lifted ({@linkcode UNLIMITED}); `extra` adds flags.
 */
export function spawnBenchRelay(dir: string, extra: readonly string[] = []): Promise<RelayProcess> {
  return spawnRelay([...UNLIMITED, ...loopbackRelayFlags(dir), ...extra]);
}

/** Latency percentiles in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

/** The result of a load run. */
export interface LoadResult extends Latency {
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly seconds: number;
}

/** The p-th percentile (0..100) of `samples`. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs `concurrency` workers that each call `once` back to back for `seconds`, and reports
 * completions per second and latency percentiles. `once` resolves true on success.
 */
export async function closedLoop(
  options: { concurrency: number; seconds: number; once: (worker: number) => Promise<boolean> },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(Array.from({ length: options.concurrency }, async (_, worker) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const ok = await options.once(worker).catch(() => false);
      if (ok) latencies.push(performance.now() - t0);
      else errors++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`: 100 on Linux x64 and arm64). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used, user and system, in milliseconds (Linux), or NaN where /proc is
 * missing. `"self"` is the calling process.
 */
export function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Prints `rows` as an aligned table, or `figures` as one JSON object with `--json`. */
export function report(
  options: {
    title: string;
    rows: readonly (readonly [string, string])[];
    figures: Record<string, unknown>;
    json: boolean;
  },
): void {
  if (options.json) {
    console.log(JSON.stringify(options.figures));
    return;
  }
  const width = Math.max(...options.rows.map(([name]) => name.length));
  console.log(options.title);
  for (const [name, value] of options.rows) console.log(`  ${name.padEnd(width)}  ${value}`);
}

/** A number with `digits` decimals. */
export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** Stops a baseline's server process (if it started) and removes its working folder. */
export async function stopBaseline(child: Deno.ChildProcess | undefined, dir: string) {
  if (child) {
    child.kill("SIGKILL");
    await child.status;
  }
  Deno.removeSync(dir, { recursive: true });
}

/** The command line of a baseline script run on its own: one numeric option, and `--json`. */
export function baselineArgs(option: string, fallback: number): { value: number; json: boolean } {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      [option]: { type: "string", default: String(fallback) },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  return { value: Number(values[option]), json: values.json === true };
}
