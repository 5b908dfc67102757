/**
 * Ingest: durable 1 KiB envelopes per second over HTTP with 64 concurrent signed senders,
 * against the same load on a trivial `Deno.serve` handler (the ceiling), and raw batched
 * SQLite inserts in-process.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { generateVaultKeys, RelayClient } from "../../lib/client/mod.ts";
import { closedLoop, fixed, type LoadResult, report, spawnBenchRelay } from "./_load.ts";

const MAIN_DIR = new URL("./", import.meta.url).pathname;

async function spawnTrivialServer() {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `${MAIN_DIR}trivial_server.ts`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening (\S+)\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The trivial server exited before listening");
    text += value;
  }
  reader.cancel();
  return { url: /listening (\S+)\n/.exec(text)![1]!, child };
}

async function signedSenders(url: string, count: number) {
  const keys = await generateVaultKeys();
  return await Promise.all(
    Array.from({ length: count }, (_, i) => RelayClient.create({ url, keys, device: `d${i}` })),
  );
}

async function load(url: string, options: { concurrency: number; seconds: number }) {
  const body = crypto.getRandomValues(new Uint8Array(1024));
  // One vault per worker, as many devices would be: quotas are per vault.
  const clients = (await Promise.all(
    Array.from({ length: options.concurrency }, () => signedSenders(url, 1)),
  )).flat();
  return await closedLoop({
    ...options,
    once: async (worker) => {
      const response = await clients[worker]!.request("POST", "/envelopes", { body });
      await response.body?.cancel();
      return response.status === 201;
    },
  });
}

function rawSqliteInserts(dir: string, seconds: number): number {
  const db = new DatabaseSync(`${dir}/raw.db`);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL");
  db.exec("CREATE TABLE t (vault TEXT, seq INTEGER, body BLOB)");
  const insert = db.prepare("INSERT INTO t VALUES (?, ?, ?)");
  const body = new Uint8Array(1024);
  let rows = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    db.exec("BEGIN");
    for (let i = 0; i < 64; i++) insert.run("v", rows++, body);
    db.exec("COMMIT");
  }
  const perSecond = rows / ((performance.now() - started) / 1000);
  db.close();
  return perSecond;
}

/** Loads a fresh relay (with `flags`) after a warm-up second. */
async function loadRelay(
  dir: string,
  options: { concurrency: number; seconds: number; flags?: readonly string[] },
): Promise<LoadResult> {
  const relay = await spawnBenchRelay(dir, options.flags ?? []);
  try {
    await load(relay.url, {
      concurrency: options.concurrency,
      seconds: Math.min(1, options.seconds),
    });
    return await load(relay.url, options);
  } finally {
    await relay.stop();
  }
}

/** Runs the scenario and prints its figures. */
export async function ingest(options: { seconds: number; json: boolean; concurrency?: number }) {
  const concurrency = options.concurrency ?? 64;
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-" });
  try {
    const trivial = await spawnTrivialServer();
    let ceiling: LoadResult;
    try {
      await load(trivial.url, { concurrency, seconds: Math.min(1, options.seconds) }); // warm-up
      ceiling = await load(trivial.url, { concurrency, seconds: options.seconds });
    } finally {
      trivial.child.kill("SIGTERM");
      await trivial.child.status;
    }
    const relayResult = await loadRelay(dir, { concurrency, seconds: options.seconds });
    const ungated = await loadRelay(dir, {
      concurrency,
      seconds: options.seconds,
      flags: ["--connection-gate", "off", "--db", `${dir}/ungated.db`],
    });
    const sqlite = rawSqliteInserts(dir, Math.min(3, options.seconds));
    const ratio = relayResult.perSecond / ceiling.perSecond;
    report({
      title:
        `ingest: 1 KiB durable envelopes, ${concurrency} concurrent signed senders, ${options.seconds} s`,
      json: options.json,
      rows: [
        ["relay envelopes/s", fixed(relayResult.perSecond, 0)],
        ["relay p50 / p99 ms", `${fixed(relayResult.p50, 2)} / ${fixed(relayResult.p99, 2)}`],
        ["relay errors", String(relayResult.errors)],
        ["relay with --connection-gate off, envelopes/s", fixed(ungated.perSecond, 0)],
        ["  p50 / p99 ms", `${fixed(ungated.p50, 2)} / ${fixed(ungated.p99, 2)}`],
        ["  ratio to trivial", fixed(ungated.perSecond / ceiling.perSecond, 2)],
        ["trivial Deno.serve req/s", fixed(ceiling.perSecond, 0)],
        ["trivial p50 / p99 ms", `${fixed(ceiling.p50, 2)} / ${fixed(ceiling.p99, 2)}`],
        ["ratio relay / trivial", fixed(ratio, 2)],
        ["raw SQLite inserts/s (batches of 64, WAL, synchronous=FULL)", fixed(sqlite, 0)],
      ],
      figures: {
        scenario: "ingest",
        concurrency,
        seconds: options.seconds,
        relay_per_second: relayResult.perSecond,
        relay_p50_ms: relayResult.p50,
        relay_p99_ms: relayResult.p99,
        relay_errors: relayResult.errors,
        relay_gate_off_per_second: ungated.perSecond,
        relay_gate_off_p99_ms: ungated.p99,
        trivial_per_second: ceiling.perSecond,
        trivial_p50_ms: ceiling.p50,
        trivial_p99_ms: ceiling.p99,
        ratio,
        raw_sqlite_inserts_per_second: sqlite,
      },
    });
    return { ratio, relay: relayResult, ceiling, sqlite };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
