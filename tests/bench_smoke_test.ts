/**
 * Every benchmark scenario, run with tiny parameters so the scripts never rot. These check that
 * each scenario runs to the end and returns its figures; they assert nothing about speed.
 */
import assert from "node:assert/strict";
import { ingest } from "../scripts/bench/ingest.ts";
import { footprint } from "../scripts/bench/footprint.ts";
import { drain } from "../scripts/bench/drain.ts";
import { soak } from "../scripts/bench/soak.ts";
import { p2p } from "../scripts/bench/p2p.ts";
import { forward } from "../scripts/bench/forward.ts";
import { connections } from "../scripts/bench/connections.ts";
import { replayCache } from "../scripts/bench/replay_cache.ts";

function assertPositive(figures: object, names: readonly string[]): void {
  for (const name of names) {
    const value = (figures as Record<string, unknown>)[name];
    assert.equal(typeof value, "number", `${name} is ${value}`);
    assert.ok(Number.isFinite(value) && (value as number) > 0, `${name} is ${value}`);
  }
}

Deno.test("the ingest scenario measures the relay, the trivial server and raw SQLite", async () => {
  const result = await ingest({ seconds: 0.3, json: true, concurrency: 4 });
  assertPositive(result, ["ratio", "sqlite"]);
  assertPositive(result.relay, ["requests", "perSecond", "p50", "p99"]);
  assertPositive(result.ceiling, ["requests", "perSecond", "p50", "p99"]);
});

Deno.test("the footprint scenario measures idle memory and time to healthy with p2p off and on", async () => {
  const figures = await footprint({ seconds: 0.1, json: true, runs: 1 });
  assertPositive(figures, [
    "rssMibP2pOff",
    "rssMibP2pOn",
    "healthyMsP2pOff",
    "healthyMsP2pOn",
  ]);
});

Deno.test("the drain scenario receives and acknowledges a whole backlog over HTTP and over a socket", async () => {
  const figures = await drain({ seconds: 1, json: true, envelopes: 200, runs: 1 });
  assertPositive(figures, ["drainMs", "fillMs", "drainMiBPerSecond", "pages", "inflation"]);
  assert.equal(figures.bodyBytes, 200 * 1024);
  assert.equal(figures.socket.bodyBytes, 200 * 1024, "the socket reader got the whole backlog");
  assertPositive(figures.socket, ["drainMs", "inflation"]);
});

Deno.test("the soak scenario ends with every acknowledged envelope accounted for and no 5xx", async () => {
  const figures = await soak({ seconds: 1, json: true, vaults: 2, fuzzers: 1 });
  assertPositive(figures, ["acknowledged", "fuzzRequests", "rssMibAfterWarmup", "rssMibEnd"]);
  assert.equal(figures.lost, 0);
  assert.equal(figures.duplicated, 0);
  assert.equal(figures.seqsReused, 0);
  assert.equal(figures.fiveXX, 0);
  assert.equal(figures.delivered + figures.purgedUndelivered, figures.acknowledged);
});

Deno.test("the p2p scenario measures idle memory and one relayed stream", async () => {
  const figures = await p2p({ seconds: 0.1, json: true, mib: 1 });
  assertPositive(figures, ["idleRssMibP2pOff", "idleRssMibP2pOn", "circuitMBPerSecond"]);
});

Deno.test("the forward scenario streams envelopes between two sockets in both modes", async () => {
  const result = await forward({ seconds: 0.3, json: true, baseline: false });
  for (const mode of [result.stateless, result.stored]) {
    assertPositive(mode.small, ["envelopes", "perSecond", "p50Ms", "p99Ms"]);
    assertPositive(mode.large, ["envelopes", "mbPerSecond"]);
  }
});

Deno.test("the connections scenario holds authenticated idle sockets and measures their memory", async () => {
  const result = await connections({
    seconds: 1,
    json: true,
    connections: 40,
    baseline: false,
    settleMs: 100,
  });
  assertPositive(result.relay, ["rssMibEmpty", "rssMibLoaded"]);
  assert.ok(Number.isFinite(result.relay.bytesPerSocket));
  assert.ok(Number.isFinite(result.bare));
});

Deno.test("the abuse scenario runs an attack against a relay child and reports its figures", async () => {
  const { abuse } = await import("../scripts/bench/abuse.ts");
  const figures = await abuse({ seconds: 1, json: true, only: ["malformed"], scale: 0.05 });
  const row = figures.malformed!;
  assert.equal(typeof row.fiveXX, "number", JSON.stringify(row));
  assert.equal(typeof row.stackTraceLines, "number");
  assert.ok(Object.keys(row.statuses as object).length > 0, "requests were answered");
});

Deno.test("the replay-cache scenario measures the relay's cache and a set of strings", async () => {
  const { relay, strings } = await replayCache({ json: true, nonces: 20_000 });
  for (const figures of [relay, strings]) {
    assert.equal(figures.nonces, 20_000);
    assertPositive(figures, ["bytesPerNonce", "nsPerRemember"]);
  }
});

Deno.test("the bench command line explains itself: --help lists the scenarios, a mistake exits 2 with one line and the usage", async () => {
  const bench = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("../scripts/bench.ts", import.meta.url).pathname,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const help = await bench("--help");
  assert.equal(help.code, 0);
  assert.match(decode(help.stdout), /^Usage: deno task bench <ingest\|.*\|replay-cache>/);
  for (
    const [args, message] of [
      [["--bogus"], /^bench: Unknown option '--bogus'/],
      [["nothing"], /^bench: Unknown scenario "nothing"/],
      [["drain", "--seconds", "x"], /^bench: --seconds must be a positive number, not "x"/],
      [[], /^bench: No scenario given/],
    ] as const
  ) {
    const result = await bench(...args);
    const stderr = decode(result.stderr);
    assert.equal(result.code, 2, stderr);
    assert.match(stderr, message);
    assert.doesNotMatch(stderr, /\bat \S+:\d+:\d+/, "no stack trace");
    assert.match(stderr, /\nUsage: deno task bench </);
  }
});
