/**
 * Forward: live socket forwarding between two devices of one vault, in stateless and
 * store-and-forward mode: envelopes/s at 1 KiB, MB/s at 64 KiB, p50/p99 delivery latency.
 * Baselines in the same run: a bare Deno WebSocket forwarder (same window, no auth, framing or
 * storage; `bare_forwarder.ts`), the relay with `--connection-gate off` (stateless, to show what
 * the gate costs), and Syncthing's relay server (strelaysrv) relaying a raw byte stream, when it
 * is installed. Each stream also reports the CPU time the server process and the clients' process
 * used per 1000 envelopes: on a 2-core machine the two compete, so the throughput ratio mixes the
 * reference client's cost into the relay's, and the server's CPU per envelope separates them.
 *
 * @module
 */
import { generateVaultKeys, RelayClient, type RelaySocket } from "../../lib/client/mod.ts";
import type { Mode } from "../../lib/config/mod.ts";
import { cpuMs, fixed, percentile, report, spawnBenchRelay } from "./_load.ts";
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
  /** CPU the server process used per 1000 envelopes (user and system). */
  readonly serverCpuMsPer1000: number;
  /** CPU this (client) process used per 1000 envelopes: both devices' work. */
  readonly clientCpuMsPer1000: number;
}

/** CPU used by the server and by this process from now until `stop`, per 1000 envelopes. */
function cpuMeter(serverPid: number) {
  const server = cpuMs(serverPid);
  const client = cpuMs("self");
  return (envelopes: number) => ({
    serverCpuMsPer1000: ((cpuMs(serverPid) - server) * 1000) / envelopes,
    clientCpuMsPer1000: ((cpuMs("self") - client) * 1000) / envelopes,
  });
}

async function stream(
  url: string,
  options: { size: number; seconds: number; stored: boolean; serverPid: number },
): Promise<StreamFigures> {
  const { stored } = options;
  const keys = await generateVaultKeys();
  const [a, b] = await Promise.all(
    ["a", "b"].map((device) => RelayClient.create({ url, keys, device })),
  );
  const latencies: number[] = [];
  let received = 0;
  let lastReceived = 0;
  // The receiver acknowledges as a client does, so stored envelopes are deleted as they arrive
  // (a vault holds at most 10 000).
  let acking = Promise.resolve();
  const receiver: RelaySocket = await b!.connect({
    onEnvelope: (envelope) => {
      const sentAt = new DataView(envelope.body.buffer, envelope.body.byteOffset).getFloat64(0);
      lastReceived = performance.now();
      latencies.push(lastReceived - sentAt);
      received++;
      if (received % 256 === 0 && stored) {
        acking = acking.then(() => receiver.ack(envelope.seq).then(() => {}));
      }
    },
  });
  const sender: RelaySocket = await a!.connect();
  const cpu = cpuMeter(options.serverPid);
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
  await acking;
  const used = cpu(received);
  await Promise.all([sender.close(), receiver.close()]);
  if (received < sent) throw new Error(`Only ${received} of ${sent} envelopes arrived`);
  const seconds = (lastReceived - started) / 1000;
  return {
    envelopes: received,
    perSecond: received / seconds,
    mbPerSecond: (received * options.size) / seconds / 1e6,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...used,
  };
}

/** The same stream through the bare forwarder: sender waits for a receipt per message. */
async function bareStream(
  url: string,
  options: { size: number; seconds: number; serverPid: number },
): Promise<StreamFigures> {
  const open = (path: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url.replace("http", "ws") + path);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`Cannot open ${path}`));
    });
  const receiver = await open("/receive");
  const sender = await open("/send");
  const latencies: number[] = [];
  let received = 0;
  let lastReceived = 0;
  receiver.onmessage = (event) => {
    lastReceived = performance.now();
    latencies.push(lastReceived - new DataView(event.data as ArrayBuffer).getFloat64(0));
    received++;
  };
  const receipts: (() => void)[] = [];
  sender.onmessage = () => receipts.shift()?.();
  const cpu = cpuMeter(options.serverPid);
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let sent = 0;
  await Promise.all(Array.from({ length: windowFor(options.size) }, async () => {
    while (performance.now() < deadline) {
      const body = new Uint8Array(options.size);
      new DataView(body.buffer).setFloat64(0, performance.now());
      sent++;
      const receipt = new Promise<void>((resolve) => receipts.push(resolve));
      sender.send(body);
      await receipt;
    }
  }));
  const drainedBy = performance.now() + 10_000;
  while (received < sent && performance.now() < drainedBy) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const used = cpu(received);
  const closed = (ws: WebSocket) =>
    new Promise((resolve) => {
      ws.onclose = resolve;
      ws.close();
    });
  await Promise.all([closed(sender), closed(receiver)]);
  const seconds = (lastReceived - started) / 1000;
  return {
    envelopes: received,
    perSecond: received / seconds,
    mbPerSecond: (received * options.size) / seconds / 1e6,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...used,
  };
}

async function measureBare(seconds: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL("./bare_forwarder.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/listening (\d+)\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error("The bare forwarder exited before listening");
      text += value;
    }
    reader.cancel();
    const url = `http://127.0.0.1:${/listening (\d+)\n/.exec(text)![1]}`;
    const serverPid = child.pid;
    await bareStream(url, { size: 1024, seconds: Math.min(1, seconds), serverPid }); // warm-up
    const small = await bareStream(url, { size: 1024, seconds, serverPid });
    const large = await bareStream(url, { size: 64 * 1024, seconds, serverPid });
    return { small, large };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function measureMode(mode: Mode, seconds: number, extra: readonly string[] = []) {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-forward-" });
  try {
    await using relay = await spawnBenchRelay(dir, [
      "--mode",
      mode,
      "--max-buffer",
      "1GiB",
      ...extra,
    ]);
    const stored = mode === "store-and-forward";
    const serverPid = relay.child.pid;
    await stream(relay.url, { size: 1024, seconds: Math.min(1, seconds), stored, serverPid }); // warm-up
    const small = await stream(relay.url, { size: 1024, seconds, stored, serverPid });
    const large = await stream(relay.url, { size: 64 * 1024, seconds, stored, serverPid });
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
  const bare = await measureBare(options.seconds);
  const stateless = await measureMode("stateless", options.seconds);
  const ungated = await measureMode("stateless", options.seconds, ["--connection-gate", "off"]);
  const stored = await measureMode("store-and-forward", options.seconds);
  const strelaysrv = options.baseline === false ? undefined : await baseline();
  const ratio = (mb: number) => strelaysrv === undefined ? NaN : mb / strelaysrv;
  const cpu = (figures: StreamFigures) =>
    `${fixed(figures.serverCpuMsPer1000, 1)} / ${fixed(figures.clientCpuMsPer1000, 1)}`;
  const rows: [string, string][] = [
    ["bare Deno forwarder 1 KiB messages/s", fixed(bare.small.perSecond, 0)],
    ["bare Deno forwarder 64 KiB MB/s", fixed(bare.large.mbPerSecond, 1)],
    ["bare 1 KiB CPU ms per 1000, server / clients", cpu(bare.small)],
    ["bare 64 KiB CPU ms per 1000, server / clients", cpu(bare.large)],
  ];
  for (
    const [name, figures] of [
      ["stateless", stateless],
      ["stateless, gate off", ungated],
      ["store-and-forward", stored],
    ] as const
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
      [
        `${name} 1 KiB ratio to bare Deno`,
        fixed(figures.small.perSecond / bare.small.perSecond, 2),
      ],
      [
        `${name} 64 KiB ratio to bare Deno`,
        fixed(figures.large.mbPerSecond / bare.large.mbPerSecond, 2),
      ],
      [`${name} 64 KiB ratio to strelaysrv`, fixed(ratio(figures.large.mbPerSecond), 3)],
      [`${name} 1 KiB CPU ms per 1000, server / clients`, cpu(figures.small)],
      [`${name} 64 KiB CPU ms per 1000, server / clients`, cpu(figures.large)],
      [
        `${name} 1 KiB server CPU per envelope, bare Deno / relay`,
        fixed(bare.small.serverCpuMsPer1000 / figures.small.serverCpuMsPer1000, 2),
      ],
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
      bare,
      stateless,
      stateless_gate_off: ungated,
      store_and_forward: stored,
      strelaysrv_mb_per_second: strelaysrv ?? null,
      stateless_64k_ratio: ratio(stateless.large.mbPerSecond),
      store_and_forward_64k_ratio: ratio(stored.large.mbPerSecond),
    },
  });
  return { bare, stateless, ungated, stored, strelaysrv };
}
