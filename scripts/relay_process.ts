/**
 * Runs the relay from source as a child process, the way `deno task start` does, for tests,
 * benchmarks and the soak run. The permission flags are read from the `start` task in
 * `deno.json`, so they are written down once.
 *
 * @module
 */
import manifest from "../deno.json" with { type: "json" };

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * Ports `freePort` picks from: below every common system's ephemeral range (Linux starts it at
 * 32768, macOS and Windows at 49152), so a port the kernel hands to another socket between the
 * check and the child's listen (a client's local port, a listener on port 0) cannot take it.
 */
const PICKED_PORTS = { first: 20_000, count: 12_000 };

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a child given a fixed port (the config
 * reserves 0 for "off"). Picked at random below the ephemeral range; see `PICKED_PORTS`.
 */
export function freePort(): number {
  const start = Math.floor(Math.random() * PICKED_PORTS.count);
  for (let i = 0; i < PICKED_PORTS.count; i++) {
    const port = PICKED_PORTS.first + (start + i) % PICKED_PORTS.count;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error(
    `No free port in ${PICKED_PORTS.first}..${PICKED_PORTS.first + PICKED_PORTS.count - 1}`,
  );
}

/** Relay flags for a child on 127.0.0.1:0 with its database in `dir` and p2p off. */
export function loopbackRelayFlags(dir: string): string[] {
  return ["--listen", "127.0.0.1:0", "--db", `${dir}/relay.db`, "--p2p-port", "0"];
}

/** The `deno run` permission flags of the `start` task. */
export function startTaskPermissions(): string[] {
  return manifest.tasks.start.split(/\s+/).filter((word) => word.startsWith("--allow-"));
}

/**
 * The `--v8-flags=…` of the `start` task: the heap settings the relay is run and measured with
 * (`deno compile --v8-flags` embeds the same in a binary).
 */
export function startTaskV8Flags(): string[] {
  return manifest.tasks.start.split(/\s+/).filter((word) => word.startsWith("--v8-flags="));
}

/** A relay child process and the URL it answers on. */
export interface RelayProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  /** Every stderr line so far. */
  readonly lines: readonly string[];
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** The `deno run … main.ts` command line for the given relay flags. */
export function relayCommand(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...startTaskPermissions(), ...startTaskV8Flags(), MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  });
}

/** Reads `stream` line by line into `lines`, calling `onLine` with each whole line. */
export async function collectLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (pending + chunk).split("\n");
    pending = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      onLine(line);
    }
  }
  if (pending) lines.push(pending);
}

/**
 * Spawns the relay with `args` (which should include `--listen 127.0.0.1:0`) and resolves once
 * its banner names the port it listens on. Rejects if it exits first.
 */
export async function spawnRelay(args: readonly string[]): Promise<RelayProcess> {
  const child = relayCommand(args).spawn();
  const lines: string[] = [];
  const listening = Promise.withResolvers<string>();
  const drained = Promise.all([
    collectLines(child.stderr, lines, (line) => {
      const match = /listening\s+(http:\/\/[^\s"]+)/.exec(line);
      if (match) listening.resolve(match[1]!);
    }),
    collectLines(child.stdout, lines, () => {}),
  ]);
  child.status.then((status) =>
    listening.reject(
      new Error(`Relay exited with ${status.code} before listening:\n${lines.join("\n")}`),
    )
  );
  const timeout = setTimeout(() => {
    child.kill("SIGKILL");
    listening.reject(
      new Error(`Relay did not print its listen address within 30 s:\n${lines.join("\n")}`),
    );
  }, 30_000);
  const url = await listening.promise.finally(() => clearTimeout(timeout));
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await drained;
      return status;
    })();
    return stopped;
  };
  return { child, url, lines, stop, [Symbol.asyncDispose]: async () => void await stop("SIGKILL") };
}
