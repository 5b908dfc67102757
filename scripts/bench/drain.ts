/**
 * Drain: one device fills a vault with a backlog (10 MiB of 1 KiB envelopes by default), then a
 * device that has never connected fetches it page by page over HTTP and acknowledges the last
 * seq. Reports the time until everything is received and acknowledged, and the bytes on the
 * wire (HTTP response bodies) against the envelope bodies they carry.
 *
 * @module
 */
import { generateVaultKeys, RelayClient } from "../../lib/client/mod.ts";
import { fixed, percentile, report, spawnBenchRelay } from "./_load.ts";

const ENVELOPE_BYTES = 1024;
const FILL_CONCURRENCY = 64;

/** Sends `count` envelopes from one device with `FILL_CONCURRENCY` requests in flight. */
async function fill(sender: RelayClient, count: number): Promise<void> {
  const body = crypto.getRandomValues(new Uint8Array(ENVELOPE_BYTES));
  let next = 0;
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      await sender.send(body, { idempotencyKey: `fill-${i}` });
    }
  }));
}

interface DrainSample {
  readonly ms: number;
  readonly pages: number;
  readonly envelopes: number;
  readonly bodyBytes: number;
  readonly wireBytes: number;
}

/** Fetches every page after 0, then acks the last seq; counts bodies and response bytes. */
async function drainOnce(reader: RelayClient, expected: number): Promise<DrainSample> {
  const started = performance.now();
  let after = 0;
  let pages = 0;
  let envelopes = 0;
  let bodyBytes = 0;
  let wireBytes = 0;
  for (;;) {
    const response = await reader.request("GET", "/envelopes", { query: { after } });
    const raw = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 200) {
      throw new Error(`Backlog answered ${response.status}: ${new TextDecoder().decode(raw)}`);
    }
    wireBytes += raw.byteLength;
    pages++;
    const page = JSON.parse(new TextDecoder().decode(raw)) as {
      envelopes: { seq: number; body: string }[];
      more: boolean;
    };
    for (const envelope of page.envelopes) {
      bodyBytes += Uint8Array.fromBase64(envelope.body).byteLength;
    }
    envelopes += page.envelopes.length;
    const last = page.envelopes.at(-1)?.seq;
    if (last !== undefined) after = last;
    if (!page.more || last === undefined) break;
  }
  await reader.ack(after);
  const ms = performance.now() - started;
  if (envelopes !== expected) {
    throw new Error(`The reader got ${envelopes} envelopes, expected ${expected}`);
  }
  return { ms, pages, envelopes, bodyBytes, wireBytes };
}

/** The scenario's figures (times are medians over the runs). */
export interface DrainFigures {
  readonly runs: number;
  readonly envelopes: number;
  readonly backlogMiB: number;
  readonly fillMs: number;
  readonly drainMs: number;
  readonly drainMiBPerSecond: number;
  readonly pages: number;
  readonly wireBytes: number;
  readonly bodyBytes: number;
  readonly inflation: number;
}

/**
 * Runs the scenario and prints its figures. Bounded by `envelopes` (default 10240, 10 MiB) and
 * `runs` (default 3, each on a new vault), not by `seconds`.
 */
export async function drain(
  options: { seconds: number; json: boolean; envelopes?: number; runs?: number },
): Promise<DrainFigures> {
  const count = options.envelopes ?? 10240;
  const runs = options.runs ?? 3;
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-" });
  try {
    await using relay = await spawnBenchRelay(dir, [
      "--max-buffer",
      String(Math.max(16 * 1024 * 1024, 2 * count * ENVELOPE_BYTES)),
    ]);
    const fills: number[] = [];
    const samples: DrainSample[] = [];
    for (let run = 0; run < runs; run++) {
      const keys = await generateVaultKeys();
      const sender = await RelayClient.create({ url: relay.url, keys, device: "sender" });
      const reader = await RelayClient.create({ url: relay.url, keys, device: `reader${run}` });
      const t0 = performance.now();
      await fill(sender, count);
      fills.push(performance.now() - t0);
      samples.push(await drainOnce(reader, count));
    }
    await relay.stop();
    const median = (values: number[]) => percentile(values, 50);
    const drainMs = median(samples.map((s) => s.ms));
    const first = samples[0]!;
    const figures: DrainFigures = {
      runs,
      envelopes: count,
      backlogMiB: (count * ENVELOPE_BYTES) / 1024 / 1024,
      fillMs: median(fills),
      drainMs,
      drainMiBPerSecond: first.bodyBytes / 1024 / 1024 / (drainMs / 1000),
      pages: first.pages,
      wireBytes: first.wireBytes,
      bodyBytes: first.bodyBytes,
      inflation: first.wireBytes / first.bodyBytes,
    };
    report({
      title: `drain: ${count} x 1 KiB envelopes (${
        fixed(figures.backlogMiB, 2)
      } MiB) to a new device over HTTP, median of ${runs} (target < 500 ms for 10 MiB)`,
      json: options.json,
      rows: [
        ["drain: all received and acked, ms", fixed(figures.drainMs, 0)],
        ["all drain ms", samples.map((s) => fixed(s.ms, 0)).join(" ")],
        ["drain MiB/s of bodies", fixed(figures.drainMiBPerSecond, 1)],
        ["pages", String(figures.pages)],
        ["response body bytes / envelope body bytes", fixed(figures.inflation, 3)],
        ["fill (64 concurrent sends), ms", fixed(figures.fillMs, 0)],
      ],
      figures: { scenario: "drain", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
