/**
 * The relay under attack: a child process started by {@linkcode spawnRelay} with default flags
 * (only `--listen`, `--db` and `--p2p-port` set, plus what an attack names), optionally under a
 * lower open-file limit, inside a memory cgroup that caps it so a ballooning relay is killed
 * instead of the machine, with its memory and death observable.
 *
 * @module
 */
import { type RelayProcess, spawnRelay } from "../relay_process.ts";
import { freePort } from "../relay_process.ts";
import { processMemory } from "./_memory.ts";

/** Memory the relay child may use before the kernel kills it (its own cgroup). */
export const MEMORY_CAP_BYTES = 4 * 2 ** 30;

/**
 * Clean-ups of everything an attack holds (relay children, temp folders, mounts), so that an
 * attack cut short by the scenario's time limit still leaves nothing behind.
 */
const pending = new Set<() => Promise<void> | void>();

/** Registers `cleanup` until the returned function is called (which runs it). */
export function holdUntilCleaned(cleanup: () => Promise<void> | void): () => Promise<void> {
  pending.add(cleanup);
  return async () => {
    if (pending.delete(cleanup)) await cleanup();
  };
}

/** Runs every clean-up still registered (after an attack was abandoned, or on Ctrl-C). */
export async function cleanUpEverything(): Promise<void> {
  for (const cleanup of [...pending].reverse()) {
    pending.delete(cleanup);
    try {
      await cleanup();
    } catch (error) {
      console.error(`Clean-up failed: ${(error as Error).message}`);
    }
  }
}

/** A temporary folder, removed on dispose or by {@linkcode cleanUpEverything}. */
export function scratchDir(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-abuse-" });
  const release = holdUntilCleaned(() => Deno.removeSync(path, { recursive: true }));
  return { path, [Symbol.asyncDispose]: release };
}

/** VmRSS and RssAnon of a process in bytes (NaN once it is gone). */
export interface Memory {
  readonly rss: number;
  readonly anon: number;
}

/** Resident memory of `pid`: VmRSS and its anonymous part RssAnon. */
export function memoryOf(pid: number): Memory {
  const { rssBytes, anonBytes } = processMemory(pid);
  return { rss: rssBytes, anon: anonBytes };
}

/** A memory cgroup (v1) below this process's own, holding the relay child. */
class MemoryCap {
  private constructor(readonly path: string) {}

  static create(pid: number, bytes: number): MemoryCap | undefined {
    try {
      const own = /^\d+:memory:(.*)$/m.exec(Deno.readTextFileSync("/proc/self/cgroup"))?.[1];
      if (own === undefined) return undefined;
      const path = `/sys/fs/cgroup/memory${own.replace(/\/$/, "")}/vaultmesh-abuse-${pid}`;
      Deno.mkdirSync(path);
      Deno.writeTextFileSync(`${path}/memory.limit_in_bytes`, String(bytes));
      Deno.writeTextFileSync(`${path}/cgroup.procs`, String(pid));
      return new MemoryCap(path);
    } catch {
      return undefined;
    }
  }

  /** True when the kernel killed a process of the cgroup for want of memory. */
  oomKilled(): boolean {
    try {
      return /oom_kill [1-9]/.test(Deno.readTextFileSync(`${this.path}/memory.oom_control`));
    } catch {
      return false;
    }
  }

  /** Removes the cgroup once its process has exited. */
  async remove(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        Deno.removeSync(this.path);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

const LIMITED = new URL("./_abuse_limited.ts", import.meta.url).pathname;

/** How a relay child ended. */
interface Ended {
  readonly code: number;
  readonly signal: string | null;
}

/** The relay child as the target needs it, however it was started. */
interface Child {
  readonly url: string;
  readonly pid: number;
  readonly lines: readonly string[];
  readonly ended: Promise<Ended>;
  kill(signal: Deno.Signal): Promise<void>;
}

function fromRelayProcess(relay: RelayProcess): Child {
  return {
    url: relay.url,
    pid: relay.child.pid,
    lines: relay.lines,
    ended: relay.child.status,
    async kill(signal) {
      try {
        relay.child.kill(signal);
      } catch {
        // Already exited.
      }
      await relay.child.status;
    },
  };
}

/**
 * Starts the relay under `prlimit --nofile=limit:limit` through {@linkcode LIMITED}, which
 * spawns it with spawnRelay: spawnRelay runs Deno directly, so there is no command to wrap, and
 * this process cannot lower its own hard limit and raise it again (no CAP_SYS_RESOURCE).
 */
async function spawnLimited(args: readonly string[], limit: number): Promise<Child> {
  const helper = new Deno.Command("prlimit", {
    args: [`--nofile=${limit}:${limit}`, "--", Deno.execPath(), "run", "-A", LIMITED, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const started = Promise.withResolvers<{ url: string; pid: number }>();
  const ended = Promise.withResolvers<Ended>();
  const stderr = new Response(helper.stderr).text();
  (async () => {
    let pending = "";
    for await (const chunk of helper.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop()!;
      for (const part of parts) {
        const message = JSON.parse(part) as Record<string, unknown>;
        if (typeof message.url === "string") {
          started.resolve({ url: message.url, pid: message.pid as number });
        } else if (typeof message.line === "string") lines.push(message.line);
        else {ended.resolve({
            code: message.code as number,
            signal: message.signal as string | null,
          });}
      }
    }
  })().finally(async () => {
    const status = await helper.status;
    const failure = new Error(`The relay did not start:\n${await stderr}`);
    started.reject(failure);
    ended.resolve({ code: status.code, signal: status.signal });
  });
  const { url, pid } = await started.promise;
  return {
    url,
    pid,
    lines,
    ended: ended.promise,
    async kill(signal) {
      try {
        Deno.kill(pid, signal);
      } catch {
        // Already exited.
      }
      await ended.promise;
      await helper.stdin.close().catch(() => {});
      await helper.status;
    },
  };
}

/** How to start the target. */
export interface TargetOptions {
  /** Folder of the database (`relay.db`) unless `db` names a file. */
  readonly dir: string;
  readonly db?: string;
  /** Extra flags, e.g. `["--mode", "stateless"]`. */
  readonly flags?: readonly string[];
  /** Run libp2p on a free port (default off: `--p2p-port 0`). */
  readonly p2p?: boolean;
  /** Start the relay as `prlimit --nofile=N` would. */
  readonly fileLimit?: number;
}

/** A relay child under attack. */
export interface Target extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The libp2p port, when p2p is on. */
  readonly p2pPort: number | undefined;
  /** Log lines written so far (stdout and stderr). */
  readonly lines: readonly string[];
  /** Resolves when the relay exits. */
  readonly ended: Promise<Ended>;
  /** Sends a signal (the exit is then awaited with `ended`). */
  signal(signal: Deno.Signal): void;
  /** Undefined while it runs; else how it ended, e.g. `exit 1`. */
  death(): string | undefined;
  /** Its memory now. */
  memory(): Memory;
  /** Log lines written so far. */
  logLength(): number;
  /** Stack-frame lines (`    at …`) logged since line `from`. */
  stackTraceLines(from?: number): number;
}

/** The relay's last log line that is not a stack frame, quoted and shortened. */
function lastWords(lines: readonly string[]): string {
  const last = lines.findLast((line) => line.trim() !== "" && !/^\s+at\s/.test(line));
  if (last === undefined || !/error|uncaught|panic|fatal|\[(ERR|FTL)\]/i.test(last)) return "";
  return `, last log line "${last.trim().slice(0, 120)}"`;
}

/** Starts the relay child: loopback port 0, its database in `dir`, default flags otherwise. */
export async function startTarget(options: TargetOptions): Promise<Target> {
  const p2pPort = options.p2p ? freePort() : undefined;
  const args = [
    "--listen",
    "127.0.0.1:0",
    "--db",
    options.db ?? `${options.dir}/relay.db`,
    "--p2p-port",
    String(p2pPort ?? 0),
    ...(options.flags ?? []),
  ];
  const child = options.fileLimit === undefined
    ? fromRelayProcess(await spawnRelay(args))
    : await spawnLimited(args, options.fileLimit);
  const pid = child.pid;
  const cap = MemoryCap.create(pid, MEMORY_CAP_BYTES);
  const release = holdUntilCleaned(async () => {
    await child.kill("SIGKILL");
    await cap?.remove();
  });
  let ended: Ended | undefined;
  child.ended.then((s) => ended = s);
  return {
    url: child.url,
    port: Number(new URL(child.url).port),
    pid,
    p2pPort,
    lines: child.lines,
    ended: child.ended,
    signal(signal) {
      try {
        Deno.kill(pid, signal);
      } catch {
        // Already exited.
      }
    },
    death() {
      if (!ended) return undefined;
      if (ended.signal) {
        return `killed by ${ended.signal}` +
          (cap?.oomKilled() ? ` (its ${MEMORY_CAP_BYTES / 2 ** 30} GiB memory cap)` : "") +
          lastWords(child.lines);
      }
      return `exit ${ended.code}` + lastWords(child.lines);
    },
    memory: () => memoryOf(pid),
    logLength: () => child.lines.length,
    stackTraceLines: (from = 0) =>
      child.lines.slice(from).filter((line) => /^\s+at\s\S|\\n\s+at\s\S/.test(line)).length,
    [Symbol.asyncDispose]: release,
  };
}

/** Peak memory of a process, sampled every `everyMs` until stopped. */
export function memorySampler(
  pid: number,
  everyMs = 100,
): { stop(): { peak: Memory; last: Memory } } {
  let peakRss = 0;
  let peakAnon = 0;
  let last = memoryOf(pid);
  const sample = () => {
    const now = memoryOf(pid);
    if (Number.isFinite(now.rss)) {
      last = now;
      peakRss = Math.max(peakRss, now.rss);
      peakAnon = Math.max(peakAnon, now.anon);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peak: { rss: peakRss, anon: peakAnon }, last };
    },
  };
}
