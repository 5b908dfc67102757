/**
 * Mixed: the relay under the load the product page's "64 MB of RAM" must hold, inside a memory
 * cgroup of that size where cgroups are writable (cgroup v1, root). One relay child with default
 * flags (p2p on) except the per-address and per-vault limits, lifted because every client here
 * comes from one loopback address:
 *
 * - signed HTTP senders on many vaults (mostly 1 KiB, every 8th 64 KiB, every 32nd the largest
 *   envelope), with readers that page each vault's backlog and acknowledge it;
 * - two live socket pairs, 1 KiB and 64 KiB, the sender keeping 2 MiB in flight and the receiver
 *   acknowledging as envelopes arrive;
 * - hundreds of idle authenticated sockets (opened by a client process).
 *
 * Every answer is counted by kind. Anything but a documented refusal (507 `buffer_full` or
 * `storage_full`, 429, 503 `busy`, and the same codes as socket errors) is a failure, and so is
 * a relay that did not survive: an OOM kill in the cgroup, or an exit before the end.
 *
 * @module
 */
import { generateVaultKeys, RelayClient, RelayError } from "../../lib/client/mod.ts";
import {
  collectLines,
  freePort,
  startTaskPermissions,
  startTaskV8Flags,
} from "../relay_process.ts";
import { fixed, report, UNLIMITED } from "./_load.ts";
import {
  type CgroupMemoryStats,
  createMemoryCgroup,
  type MemoryCgroup,
  memoryCgroupUnavailable,
  processMemory,
} from "./_memory.ts";
import { openFileLimit } from "../../lib/guard/fd_budget.ts";
import { bundleRelay } from "../package/bundle.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const IDLE_SOCKETS = new URL("./idle_sockets.ts", import.meta.url).pathname;
const KiB = 1024;
const MiB = 1024 * KiB;

/** HTTP statuses that are documented refusals, not failures. */
const REFUSED_STATUSES = new Set([429, 503, 507]);
/** Socket error codes that are documented refusals, not failures. */
const REFUSED_CODES = new Set(["buffer_full", "storage_full", "busy", "rate_limited"]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts of answers by kind, and the failures among them. */
class Tally {
  readonly counts = new Map<string, number>();
  failures = 0;
  refusals = 0;
  readonly examples: string[] = [];

  #add(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  ok(what: string): void {
    this.#add(`${what} ok`);
  }

  /** An HTTP answer: success, documented refusal or failure. */
  status(what: string, status: number, code = ""): void {
    if (status < 300) return this.ok(what);
    this.#add(`${what} ${status}${code ? ` ${code}` : ""}`);
    if (REFUSED_STATUSES.has(status)) this.refusals++;
    else this.fail(`${what} ${status} ${code}`);
  }

  /** A thrown error of the client: an error answer, a socket error, or the network. */
  error(what: string, error: unknown): void {
    if (error instanceof RelayError && error.status !== 0) {
      return this.status(what, error.status, error.code);
    }
    if (error instanceof RelayError && REFUSED_CODES.has(error.code)) {
      this.#add(`${what} ${error.code}`);
      this.refusals++;
      return;
    }
    const name = error instanceof RelayError ? error.code : (error as Error)?.name ?? "unknown";
    this.#add(`${what} ${name}`);
    this.fail(`${what}: ${(error as Error)?.message ?? String(error)}`);
  }

  fail(example: string): void {
    this.failures++;
    if (this.examples.length < 5) this.examples.push(example);
  }
}

/** Options of one mixed run; every count has a default that matches issue 15's load. */
export interface MixedOptions {
  readonly seconds: number;
  readonly json: boolean;
  /** Limit of the memory cgroup in MiB (default 64); 0 runs the relay without one. */
  readonly cgroupMib?: number;
  /** Concurrent signed HTTP senders (default 32). */
  readonly senders?: number;
  /** Vaults the HTTP senders spread over (default 64). */
  readonly vaults?: number;
  /** Concurrent HTTP readers that page and acknowledge backlogs (default 4). */
  readonly readers?: number;
  /** Idle authenticated sockets (default 300). */
  readonly idleSockets?: number;
  /** Run the two live socket pairs (default true). */
  readonly socketPairs?: boolean;
  /** Extra `deno run` flags for the relay child (e.g. `--v8-flags=…`), before `main.ts`. */
  readonly denoFlags?: readonly string[];
  /**
   * What runs: `bundle` (the default), the `deno bundle` of `main.ts` that the release binaries
   * embed (`scripts/package/bundle.ts`), or `source`, `main.ts` as `deno task start` runs it.
   */
  readonly entry?: "bundle" | "source";
  /** Extra relay flags. */
  readonly relayFlags?: readonly string[];
}

/** What a mixed run measured. */
export interface MixedFigures {
  readonly seconds: number;
  /** What ran: the bundle, or the source (also when bundling failed: see `bundleSkipped`). */
  readonly entry: "bundle" | "source";
  /** Why the bundle was not run when it was asked for. */
  readonly bundleSkipped: string | null;
  readonly cgroupMib: number;
  /** Why no cgroup was used, when none was. */
  readonly cgroupSkipped: string | null;
  readonly idleRssMib: number;
  readonly idleAnonMib: number;
  readonly peakRssMib: number;
  readonly peakAnonMib: number;
  readonly endAnonMib: number;
  readonly cgroup: CgroupMemoryStats | null;
  /** The relay was running when the load ended. */
  readonly survived: boolean;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  readonly httpSends: number;
  readonly socketEnvelopes1k: number;
  readonly socketMib64k: number;
  readonly refusals: number;
  readonly failures: number;
  readonly examples: readonly string[];
  readonly counts: Record<string, number>;
  /** Relay log lines at error level or worse. */
  readonly relayErrors: readonly string[];
  readonly ok: boolean;
}

interface MixedRelay extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  url: string;
  readonly lines: string[];
  exited: Deno.CommandStatus | undefined;
}

/** Starts the relay child, inside `cgroup` when given, and waits for its listen address. */
async function spawnMixedRelay(
  dir: string,
  options: {
    cgroup: MemoryCgroup | undefined;
    denoFlags: readonly string[];
    relayFlags: readonly string[];
    entry: string;
  },
): Promise<MixedRelay> {
  const args = [
    "run",
    ...startTaskPermissions(),
    ...(options.denoFlags.some((flag) => flag.startsWith("--v8-flags=")) ? [] : startTaskV8Flags()),
    ...options.denoFlags,
    options.entry,
    "--listen",
    "127.0.0.1:0",
    "--db",
    `${dir}/relay.db`,
    "--p2p-port",
    String(freePort()),
    // The open-file limit the relay would read as root or with --allow-all (systemd's
    // LimitNOFILE in production); the 1024 it assumes otherwise holds fewer idle sockets.
    ...(openFileLimit() === undefined ? [] : ["--max-open-files", String(openFileLimit())]),
    ...UNLIMITED,
    ...options.relayFlags,
  ];
  const { command, args: wrapped } = options.cgroup?.wrap(Deno.execPath(), args) ??
    { command: Deno.execPath(), args };
  const child = new Deno.Command(command, {
    args: wrapped,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const listening = Promise.withResolvers<string>();
  const onLine = (line: string) => {
    const match = /listening\s+(http:\/\/[^\s"]+)/.exec(line);
    if (match) listening.resolve(match[1]!);
  };
  const drained = Promise.all([
    collectLines(child.stderr, lines, onLine),
    collectLines(child.stdout, lines, onLine),
  ]);
  const relay: MixedRelay = {
    child,
    lines,
    url: "",
    exited: undefined,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await drained;
    },
  };
  child.status.then((status) => {
    relay.exited = status;
    listening.reject(new Error(`The relay exited before listening:\n${lines.join("\n")}`));
  });
  const timeout = setTimeout(
    () => listening.reject(new Error(`The relay did not listen within 30 s:\n${lines.join("\n")}`)),
    30_000,
  );
  try {
    relay.url = await listening.promise;
    return relay;
  } catch (error) {
    await relay[Symbol.asyncDispose]();
    throw error;
  } finally {
    clearTimeout(timeout);
  }
}

/** A body of `size` bytes, cached per size. */
const bodies = new Map<number, Uint8Array<ArrayBuffer>>();
function bodyOf(size: number): Uint8Array<ArrayBuffer> {
  let body = bodies.get(size);
  if (!body) {
    body = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(body.subarray(at, at + 65536));
    bodies.set(size, body);
  }
  return body;
}

/** The body size of the `n`th HTTP send: mostly 1 KiB, some 64 KiB, a few of the largest. */
function httpSize(n: number, maxEnvelope: number): number {
  if (n % 32 === 31) return maxEnvelope;
  if (n % 8 === 7) return 64 * KiB;
  return KiB;
}

/**
 * Opens `count` idle authenticated sockets from a client process; resolves once all are open.
 * Gives up (and kills the client) when the relay is gone first or it takes more than a minute.
 */
async function openIdleSockets(
  url: string,
  options: { count: number; relayGone: Promise<unknown> },
): Promise<Deno.ChildProcess | undefined> {
  if (options.count === 0) return undefined;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", IDLE_SOCKETS, url, String(options.count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const ready = (async () => {
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("The idle-socket client exited before its sockets were open");
      text += value;
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const givenUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("Idle sockets not open within 60 s")), 60_000);
    options.relayGone.then(() => reject(new Error("The relay exited while sockets opened")));
  });
  try {
    await Promise.race([ready, givenUp]);
    reader.releaseLock();
    return child;
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await ready.catch(() => {});
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function closeIdleSockets(child: Deno.ChildProcess | undefined): Promise<void> {
  if (!child) return;
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  await child.status;
}

/** `fetch` that gives up when no answer started within 30 s (a relay that hangs or died). */
const boundedFetch: typeof fetch = async (input, init) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("No answer within 30 s")), 30_000);
  try {
    return await fetch(input, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
};

/** One vault's sender and reader devices. */
interface HttpVault {
  readonly sender: RelayClient;
  readonly reader: RelayClient;
}

async function httpVaults(url: string, count: number): Promise<HttpVault[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const keys = await generateVaultKeys();
    const [sender, reader] = await Promise.all(
      ["sender", "reader"].map((device) =>
        RelayClient.create({ url, keys, device, fetch: boundedFetch })
      ),
    );
    return { sender: sender!, reader: reader! };
  }));
}

/** When the load stops: at its deadline, or at once when the relay is gone. */
interface Clock {
  deadline: number;
  relayGone: boolean;
}

const running = (clock: Clock) => !clock.relayGone && performance.now() < clock.deadline;

/** HTTP senders: worker `w` sends to vaults w, w + senders, … in turn until the deadline. */
async function runSenders(
  vaults: readonly HttpVault[],
  options: { senders: number; clock: Clock; maxEnvelope: number; tally: Tally },
): Promise<number> {
  let sent = 0;
  let n = 0;
  await Promise.all(Array.from({ length: options.senders }, async (_, worker) => {
    for (let turn = 0; running(options.clock); turn++) {
      const vault = vaults[(worker + turn * options.senders) % vaults.length]!;
      const size = httpSize(n++, options.maxEnvelope);
      try {
        const response = await vault.sender.request("POST", "/envelopes", { body: bodyOf(size) });
        const code = response.ok
          ? ""
          : String((await response.json().catch(() => ({})))?.error ?? "");
        if (response.ok) await response.body?.cancel();
        options.tally.status("http send", response.status, code);
        if (response.ok) sent++;
        else await sleep(50);
      } catch (error) {
        options.tally.error("http send", error);
        await sleep(50);
      }
    }
  }));
  return sent;
}

/** HTTP readers: page each vault's backlog in turn and acknowledge what was read. */
async function runReaders(
  vaults: readonly HttpVault[],
  options: { readers: number; clock: Clock; tally: Tally },
): Promise<void> {
  await Promise.all(Array.from({ length: options.readers }, async (_, worker) => {
    for (let turn = 0; running(options.clock); turn++) {
      const vault = vaults[(worker + turn * options.readers) % vaults.length]!;
      try {
        const page = await vault.reader.backlog();
        options.tally.ok("http backlog");
        const last = page.envelopes.at(-1);
        if (last) {
          await vault.reader.ack(last.seq);
          options.tally.ok("http ack");
        }
      } catch (error) {
        options.tally.error("http read", error);
        await sleep(50);
      }
    }
  }));
}

/**
 * One live pair: device a sends `size` bodies keeping 2 MiB (at most 256 envelopes) in flight;
 * device b acknowledges what arrived every 50 ms. Resolves with envelopes received.
 */
async function runPair(
  url: string,
  options: { size: number; clock: Clock; tally: Tally },
): Promise<number> {
  const what = `socket ${options.size / KiB} KiB`;
  const keys = await generateVaultKeys();
  const [a, b] = await Promise.all(
    ["a", "b"].map((device) => RelayClient.create({ url, keys, device })),
  );
  let received = 0;
  let lastSeq = 0;
  const receiver = await b!.connect({
    onEnvelope: (envelope) => {
      received++;
      lastSeq = Math.max(lastSeq, envelope.seq);
    },
  });
  const sender = await a!.connect();
  let acked = 0;
  const acking = (async () => {
    while (running(options.clock)) {
      await sleep(50);
      if (lastSeq <= acked) continue;
      const seq = lastSeq;
      try {
        await receiver.ack(seq);
        acked = seq;
      } catch (error) {
        options.tally.error(`${what} ack`, error);
      }
    }
  })();
  const window = Math.max(1, Math.min(256, Math.floor(2 * MiB / options.size)));
  const body = bodyOf(options.size);
  await Promise.all(Array.from({ length: window }, async () => {
    while (running(options.clock)) {
      try {
        await sender.send(body);
        options.tally.ok(`${what} send`);
      } catch (error) {
        options.tally.error(`${what} send`, error);
        await sleep(100);
      }
    }
  }));
  await acking;
  await Promise.all([sender.close(), receiver.close()]);
  return received;
}

/** The relay's entry file: the bundle written into `bundleDir`, or `main.ts`. */
async function relayEntry(
  wanted: "bundle" | "source",
  bundleDir: string,
): Promise<{ kind: "bundle" | "source"; path: string; skipped: string | null }> {
  if (wanted === "source") return { kind: "source", path: MAIN, skipped: null };
  try {
    return { kind: "bundle", path: (await bundleRelay(bundleDir)).entry, skipped: null };
  } catch (error) {
    return { kind: "source", path: MAIN, skipped: (error as Error).message };
  }
}

/** Runs the scenario and prints its figures. */
export async function mixed(options: MixedOptions): Promise<MixedFigures> {
  const cgroupMib = options.cgroupMib ?? 64;
  const senders = options.senders ?? 32;
  const vaultCount = options.vaults ?? 64;
  const readers = options.readers ?? 4;
  const idleSockets = options.idleSockets ?? 300;
  const pairs = options.socketPairs ?? true;
  const maxEnvelope = MiB;
  const unavailable = cgroupMib > 0 ? memoryCgroupUnavailable() : "not asked for";
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-mixed-" });
  const tally = new Tally();
  try {
    const entry = await relayEntry(options.entry ?? "bundle", `${dir}/bundle`);
    await using cgroup = unavailable === undefined
      ? createMemoryCgroup("vaultmesh-mixed", cgroupMib * MiB)
      : undefined;
    const relayFlags = options.relayFlags ?? [];
    await using relay = await spawnMixedRelay(dir, {
      cgroup,
      denoFlags: options.denoFlags ?? [],
      // What a service with systemd's MemoryMax= says in VAULTMESH_RELAY_MEMORY_LIMIT: the relay
      // cannot read its cgroup without --allow-all.
      relayFlags: cgroup && !relayFlags.some((flag) => flag.startsWith("--memory-limit"))
        ? ["--memory-limit", `${cgroupMib}MiB`, ...relayFlags]
        : relayFlags,
      entry: entry.path,
    });
    const pid = relay.child.pid;
    // A relay that dies (an OOM kill) ends the load at once; the result says so.
    const clock: Clock = { deadline: Infinity, relayGone: false };
    const relayGone = relay.child.status.then(() => clock.relayGone = true);
    await sleep(1000);
    const idle = processMemory(pid);
    let peakRss = idle.rssBytes, peakAnon = idle.anonBytes;
    const sampler = setInterval(() => {
      const now = processMemory(pid);
      if (now.rssBytes > peakRss) peakRss = now.rssBytes;
      if (now.anonBytes > peakAnon) peakAnon = now.anonBytes;
    }, 100);
    let idleClient: Deno.ChildProcess | undefined;
    let httpSends = 0, small = 0, large = 0;
    try {
      idleClient = await openIdleSockets(relay.url, { count: idleSockets, relayGone });
      const vaults = await httpVaults(relay.url, vaultCount);
      clock.deadline = performance.now() + options.seconds * 1000;
      const load = Promise.all([
        runSenders(vaults, { senders, clock, maxEnvelope, tally }),
        pairs ? runPair(relay.url, { size: KiB, clock, tally }) : 0,
        pairs ? runPair(relay.url, { size: 64 * KiB, clock, tally }) : 0,
        runReaders(vaults, { readers, clock, tally }),
      ]);
      // Every worker stops at the deadline or when the relay is gone; one that waits on an
      // answer that never comes is abandoned after a grace period, as a failure.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), (options.seconds + 30) * 1000);
      });
      const done = await Promise.race([load, stuck]).finally(() => clearTimeout(timer));
      if (done === undefined) throw new Error("The load did not end within 30 s of its deadline");
      [httpSends, small, large] = done;
    } catch (error) {
      tally.fail(`load: ${(error as Error).message}`);
    } finally {
      clearInterval(sampler);
      await closeIdleSockets(idleClient);
    }
    const end = processMemory(pid);
    const survived = relay.exited === undefined;
    const cgroupStats = cgroup?.stats() ?? null;
    if (survived) {
      relay.child.kill("SIGTERM");
      await relay.child.status;
    }
    const status = await relay.child.status;
    const relayErrors = relay.lines.filter((line) =>
      /\[(ERR|FTL)\]|"level":"(error|fatal)"/i.test(line)
    );
    const mib = (bytes: number) => bytes / MiB;
    const figures: MixedFigures = {
      seconds: options.seconds,
      entry: entry.kind,
      bundleSkipped: entry.skipped,
      cgroupMib: unavailable === undefined ? cgroupMib : 0,
      cgroupSkipped: unavailable ?? null,
      idleRssMib: mib(idle.rssBytes),
      idleAnonMib: mib(idle.anonBytes),
      peakRssMib: mib(peakRss),
      peakAnonMib: mib(peakAnon),
      endAnonMib: mib(end.anonBytes),
      cgroup: cgroupStats,
      survived,
      exitCode: status.code,
      exitSignal: status.signal,
      httpSends,
      socketEnvelopes1k: small,
      socketMib64k: large * 64 / 1024,
      refusals: tally.refusals,
      failures: tally.failures,
      examples: tally.examples,
      counts: Object.fromEntries([...tally.counts].sort(([a], [b]) => a.localeCompare(b))),
      relayErrors,
      ok: survived && tally.failures === 0 && (cgroupStats?.oomKills ?? 0) === 0,
    };
    report({
      title: `mixed: ${options.seconds} s, ${senders} HTTP senders on ${vaultCount} vaults, ` +
        `${readers} readers, socket pairs 1 KiB + 64 KiB, ${idleSockets} idle sockets, ` +
        `${
          unavailable === undefined
            ? `${cgroupMib} MiB memory cgroup`
            : `no cgroup (${unavailable})`
        }` +
        ` — ${figures.ok ? "PASS" : "FAIL"}`,
      json: options.json,
      rows: [
        [
          "relay run from",
          entry.kind === "bundle"
            ? "the deno bundle of main.ts (as the release binaries)"
            : `main.ts${entry.skipped ? ` (bundling failed: ${entry.skipped})` : ""}`,
        ],
        ["relay survived / exit", `${survived ? "yes" : "no"} / ${status.signal ?? status.code}`],
        [
          "cgroup peak MiB / failcnt / OOM kills",
          cgroupStats
            ? `${
              fixed(mib(cgroupStats.maxUsageBytes))
            } / ${cgroupStats.failcnt} / ${cgroupStats.oomKills}`
            : "n/a",
        ],
        ["RSS MiB idle / peak", `${fixed(figures.idleRssMib)} / ${fixed(figures.peakRssMib)}`],
        [
          "RssAnon MiB idle / peak / end",
          `${fixed(figures.idleAnonMib)} / ${fixed(figures.peakAnonMib)} / ${
            fixed(figures.endAnonMib)
          }`,
        ],
        ["HTTP sends stored", String(httpSends)],
        ["socket 1 KiB envelopes received", String(small)],
        ["socket 64 KiB MiB received", fixed(figures.socketMib64k)],
        ["documented refusals", String(tally.refusals)],
        ["failures", String(tally.failures)],
        ...tally.examples.map((example) => ["  e.g.", example] as const),
        ["relay error log lines", String(relayErrors.length)],
        ...relayErrors.slice(0, 3).map((line) => ["  e.g.", line] as const),
        ...Object.entries(figures.counts).map(([kind, n]) => [`  ${kind}`, String(n)] as const),
      ],
      figures: { scenario: "mixed", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
