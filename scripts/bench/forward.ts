/**
 * Forward: live socket forwarding between two devices of one vault, in stateless and
 * store-and-forward mode: envelopes/s at 1 KiB, MB/s at 64 KiB, p50/p99 delivery latency.
 * Baseline: Syncthing's relay server (strelaysrv) relaying a raw byte stream in the same run,
 * when it is installed.
 *
 * @module
 */
import { generateVaultKeys, RelayClient, type RelaySocket } from "../../lib/client/mod.ts";
import type { Mode } from "../../lib/config/mod.ts";
import { fixed, percentile, report, spawnBenchRelay } from "./_load.ts";
import { strelaysrvBaseline } from "./strelaysrv_baseline.ts";

/**
 * Envelopes a sender keeps in flight (sent, receipt not yet back): 256, or fewer so that at
 * most 2 MiB is in flight, as PROTOCOL.md asks of clients.
 */
function windowFor(size: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 * 1024 * 1024 / size)));
}

/** One measured stream. */
export interface StreamFigures {
  readonly envelopes: number;
  readonly perSecond: number;
  readonly mbPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function stream(
  url: string,
  options: { size: number; seconds: number },
): Promise<StreamFigures> {
  const keys = await generateVaultKeys();
  const [a, b] = await Promise.all(
    ["a", "b"].map((device) => RelayClient.create({ url, keys, device })),
  );
  const latencies: number[] = [];
  let received = 0;
  let lastReceived = 0;
  const receiver = await b!.connect({
    onEnvelope: (envelope) => {
      const sentAt = new DataView(envelope.body.buffer, envelope.body.byteOffset).getFloat64(0);
      lastReceived = performance.now();
      latencies.push(lastReceived - sentAt);
      received++;
    },
  });
  const sender: RelaySocket = await a!.connect();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let sent = 0;
  await Promise.all(Array.from({ length: windowFor(options.size) }, async () => {
    while (performance.now() < deadline) {
      const body = new Uint8Array(options.size);
      new DataView(body.buffer).setFloat64(0, performance.now());
      sent++;
      await sender.send(body);
    }
  }));
  const drainedBy = performance.now() + 10_000;
  while (received < sent && performance.now() < drainedBy) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all([sender.close(), receiver.close()]);
  if (received < sent) throw new Error(`Only ${received} of ${sent} envelopes arrived`);
  const seconds = (lastReceived - started) / 1000;
  return {
    envelopes: received,
    perSecond: received / seconds,
    mbPerSecond: (received * options.size) / seconds / 1e6,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

async function measureMode(mode: Mode, seconds: number) {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-forward-" });
  try {
    await using relay = await spawnBenchRelay(dir, ["--mode", mode, "--max-buffer", "1GiB"]);
    await stream(relay.url, { size: 1024, seconds: Math.min(1, seconds) }); // warm-up
    const small = await stream(relay.url, { size: 1024, seconds });
    const large = await stream(relay.url, { size: 64 * 1024, seconds });
    return { small, large };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function baseline(): Promise<number | undefined> {
  try {
    return (await strelaysrvBaseline({ mib: 256 })).mbPerSecond;
  } catch (error) {
    console.error(`strelaysrv baseline skipped: ${(error as Error).message}`);
    return undefined;
  }
}

/** Runs the scenario and prints its figures. */
export async function forward(
  options: { seconds: number; json: boolean; baseline?: boolean },
) {
  const stateless = await measureMode("stateless", options.seconds);
  const stored = await measureMode("store-and-forward", options.seconds);
  const strelaysrv = options.baseline === false ? undefined : await baseline();
  const ratio = (mb: number) => strelaysrv === undefined ? NaN : mb / strelaysrv;
  const rows: [string, string][] = [];
  for (
    const [name, figures] of [["stateless", stateless], ["store-and-forward", stored]] as const
  ) {
    rows.push(
      [`${name} 1 KiB envelopes/s`, fixed(figures.small.perSecond, 0)],
      [
        `${name} 1 KiB p50 / p99 ms`,
        `${fixed(figures.small.p50Ms, 2)} / ${fixed(figures.small.p99Ms, 2)}`,
      ],
      [`${name} 64 KiB MB/s`, fixed(figures.large.mbPerSecond, 1)],
      [
        `${name} 64 KiB p50 / p99 ms`,
        `${fixed(figures.large.p50Ms, 2)} / ${fixed(figures.large.p99Ms, 2)}`,
      ],
      [`${name} 64 KiB ratio to strelaysrv`, fixed(ratio(figures.large.mbPerSecond), 3)],
    );
  }
  rows.push([
    "strelaysrv raw stream MB/s",
    strelaysrv === undefined ? "not installed" : fixed(strelaysrv, 1),
  ]);
  report({
    title:
      `forward: two devices on sockets, up to 256 envelopes or 2 MiB in flight, ${options.seconds} s per stream`,
    json: options.json,
    rows,
    figures: {
      scenario: "forward",
      seconds: options.seconds,
      stateless,
      store_and_forward: stored,
      strelaysrv_mb_per_second: strelaysrv ?? null,
      stateless_64k_ratio: ratio(stateless.large.mbPerSecond),
      store_and_forward_64k_ratio: ratio(stored.large.mbPerSecond),
    },
  });
  return { stateless, stored, strelaysrv };
}
