/**
 * Footprint: resident memory (VmRSS) and anonymous memory (RssAnon: the relay's own, not the
 * mapped `deno` binary) of an idle relay child with p2p off and with p2p on, run from source
 * and, for p2p on, from the `deno bundle` of `main.ts` that the release binaries embed
 * (`scripts/package/bundle.ts`: one file per lazily loaded part), and the time from spawning
 * the process to the first healthy `GET /health`. Each is measured `runs` times on a fresh
 * database and reported as the median.
 *
 * @module
 */
import { bundleRelay } from "../package/bundle.ts";
import {
  freePort,
  relayCommand,
  startTaskPermissions,
  startTaskV8Flags,
} from "../relay_process.ts";
import { fixed, percentile, report } from "./_load.ts";
import { processMemory } from "./_memory.ts";

async function drainLines(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (pending + chunk).split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One start of the relay: time to healthy and idle RSS. */
export interface Sample {
  readonly healthyMs: number;
  readonly rssBytes: number;
  readonly anonBytes: number;
}

/** The relay command for `entry` (a bundle), as {@linkcode relayCommand} runs `main.ts`. */
function entryCommand(entry: string, args: readonly string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...startTaskPermissions(), ...startTaskV8Flags(), entry, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

/**
 * Starts a relay child on a fresh database and measures milliseconds from spawn to a healthy
 * `/health` and its RSS after it has idled `idleSeconds` past its banner; then kills it.
 */
export async function startOnce(
  dir: string,
  options: { p2p: boolean; idleSeconds: number; entry?: string },
): Promise<Sample> {
  const port = freePort();
  const args = [
    "--listen",
    `127.0.0.1:${port}`,
    "--db",
    `${dir}/relay-${crypto.randomUUID()}.db`,
    "--p2p-port",
    options.p2p ? String(freePort()) : "0",
  ];
  const lines: string[] = [];
  const command = options.entry ? entryCommand(options.entry, args) : relayCommand(args);
  const started = performance.now();
  const child = command.spawn();
  const drained = Promise.all([drainLines(child.stderr, lines), drainLines(child.stdout, lines)]);
  let exited = false;
  child.status.then(() => exited = true);
  try {
    let healthyMs = NaN;
    const deadline = started + 30_000;
    while (performance.now() < deadline && !exited) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`, {
          signal: AbortSignal.timeout(1000),
        });
        const body = await response.json() as { status?: string };
        if (response.ok && body.status === "ok") {
          healthyMs = performance.now() - started;
          break;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(2);
    }
    if (!Number.isFinite(healthyMs)) {
      throw new Error(`The relay never became healthy:\n${lines.join("\n")}`);
    }
    // The banner comes after every part (p2p included) has started; idle from there.
    while (!lines.some((line) => /\sp2p\s{3,}(disabled|port)/.test(line))) {
      if (exited || performance.now() > deadline) {
        throw new Error(`The relay never printed its banner:\n${lines.join("\n")}`);
      }
      await sleep(10);
    }
    await sleep(options.idleSeconds * 1000);
    return { healthyMs, ...processMemory(child.pid) };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    await drained;
  }
}

/** Medians over `runs` starts with p2p off and on (and bundled with p2p on). */
export interface FootprintFigures {
  readonly runs: number;
  readonly idleSeconds: number;
  readonly rssMibP2pOff: number;
  readonly rssMibP2pOn: number;
  readonly anonMibP2pOff: number;
  readonly anonMibP2pOn: number;
  /** RssAnon of the bundled relay, p2p on; NaN when it could not be bundled. */
  readonly anonMibP2pOnBundled: number;
  readonly rssMibP2pOnBundled: number;
  readonly healthyMsP2pOff: number;
  readonly healthyMsP2pOn: number;
  readonly healthyMsP2pOnBundled: number;
  /** Why no bundle was measured, if none was. */
  readonly bundleSkipped: string | null;
  readonly v8Flags: string;
}

/**
 * Runs the scenario and prints its figures. `seconds` is how long each relay idles before its
 * RSS is read; `runs` how many starts per setting (default 5).
 */
export async function footprint(
  options: { seconds: number; json: boolean; runs?: number; bundled?: boolean },
): Promise<FootprintFigures> {
  const runs = options.runs ?? 5;
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-" });
  try {
    const bundle: { entry: string } | { error: string } = options.bundled === false
      ? { error: "not asked for" }
      : await bundleRelay(`${dir}/bundle`).catch((error: Error) => ({ error: error.message }));
    const off: Sample[] = [];
    const on: Sample[] = [];
    const bundled: Sample[] = [];
    // Interleaved so drift on a shared machine hits every setting alike.
    for (let i = 0; i < runs; i++) {
      off.push(await startOnce(dir, { p2p: false, idleSeconds: options.seconds }));
      on.push(await startOnce(dir, { p2p: true, idleSeconds: options.seconds }));
      if ("entry" in bundle) {
        bundled.push(
          await startOnce(dir, { p2p: true, idleSeconds: options.seconds, entry: bundle.entry }),
        );
      }
    }
    const median = (values: number[]) => percentile(values, 50);
    const mib = (bytes: number) => bytes / 1024 / 1024;
    const figures: FootprintFigures = {
      runs,
      idleSeconds: options.seconds,
      rssMibP2pOff: mib(median(off.map((s) => s.rssBytes))),
      rssMibP2pOn: mib(median(on.map((s) => s.rssBytes))),
      anonMibP2pOff: mib(median(off.map((s) => s.anonBytes))),
      anonMibP2pOn: mib(median(on.map((s) => s.anonBytes))),
      anonMibP2pOnBundled: mib(median(bundled.map((s) => s.anonBytes))),
      rssMibP2pOnBundled: mib(median(bundled.map((s) => s.rssBytes))),
      healthyMsP2pOff: median(off.map((s) => s.healthyMs)),
      healthyMsP2pOn: median(on.map((s) => s.healthyMs)),
      healthyMsP2pOnBundled: median(bundled.map((s) => s.healthyMs)),
      bundleSkipped: "error" in bundle ? bundle.error : null,
      v8Flags: startTaskV8Flags().join(" ") || "none",
    };
    const all = (values: number[], digits: number) => values.map((v) => fixed(v, digits)).join(" ");
    report({
      title:
        `footprint: median of ${runs} starts each, memory after ${options.seconds} s idle, V8 ` +
        `flags of the start task: ${figures.v8Flags} (targets: RssAnon ≤ 28 MiB p2p on, ` +
        "healthy ≤ 300 ms)",
      json: options.json,
      rows: [
        [
          "idle RSS / RssAnon MiB, p2p off",
          `${fixed(figures.rssMibP2pOff)} / ${fixed(figures.anonMibP2pOff)}`,
        ],
        [
          "idle RSS / RssAnon MiB, p2p on",
          `${fixed(figures.rssMibP2pOn)} / ${fixed(figures.anonMibP2pOn)}`,
        ],
        [
          "idle RSS / RssAnon MiB, p2p on, bundled",
          figures.bundleSkipped ??
            `${fixed(figures.rssMibP2pOnBundled)} / ${fixed(figures.anonMibP2pOnBundled)}`,
        ],
        ["spawn to healthy ms, p2p off", fixed(figures.healthyMsP2pOff, 0)],
        ["spawn to healthy ms, p2p on", fixed(figures.healthyMsP2pOn, 0)],
        ["spawn to healthy ms, p2p on, bundled", fixed(figures.healthyMsP2pOnBundled, 0)],
        ["all RssAnon MiB, off", all(off.map((s) => mib(s.anonBytes)), 1)],
        ["all RssAnon MiB, on", all(on.map((s) => mib(s.anonBytes)), 1)],
        ["all RssAnon MiB, on, bundled", all(bundled.map((s) => mib(s.anonBytes)), 1)],
        ["all healthy ms, off", all(off.map((s) => s.healthyMs), 0)],
        ["all healthy ms, on", all(on.map((s) => s.healthyMs), 0)],
      ],
      figures: { scenario: "footprint", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
