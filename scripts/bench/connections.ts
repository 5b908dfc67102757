/**
 * Connections: N authenticated idle sockets held by the relay (opened by client processes, 16
 * devices per vault): relay resident memory per socket, against Hocuspocus holding the same
 * number of idle WebSocket connections in one room, measured in the same run.
 *
 * @module
 */
import { fixed, report, spawnBenchRelay } from "./_load.ts";
import { processMemory } from "./_memory.ts";
import { hocuspocusBaseline } from "./hocuspocus_baseline.ts";
import { fdBudget, openFileLimit } from "../../lib/guard/fd_budget.ts";

const SCRIPT = new URL("./idle_sockets.ts", import.meta.url).pathname;
/** Sockets per client process, well inside the open-file limit of each process. */
const PER_PROCESS = 5000;

async function openIdleSockets(url: string, count: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, url, String(count)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("An idle-socket client exited before its sockets were open");
    text += value;
  }
  reader.releaseLock();
  return child;
}

/**
 * The open-file limit the relay gets told (it cannot read it without --allow-all), and how many
 * sockets fit in its descriptor budget: a socket the connection gate speaks itself costs 1.
 */
function descriptors(requested: number): { flags: string[]; fit: number } {
  const limit = openFileLimit();
  if (limit === undefined) return { flags: [], fit: requested };
  const fit = fdBudget(limit, { p2p: false }).http - 16;
  return { flags: ["--max-open-files", String(limit)], fit: Math.min(requested, fit) };
}

/** RSS per socket of the relay holding `connections` idle authenticated sockets. */
async function relayBytesPerSocket(connections: number, settleMs: number, flags: string[]) {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-connections-" });
  const clients: Deno.ChildProcess[] = [];
  try {
    await using relay = await spawnBenchRelay(dir, ["--max-connections", "1000000", ...flags]);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const empty = processMemory(relay.child.pid).rssBytes;
    for (let opened = 0; opened < connections; opened += PER_PROCESS) {
      clients.push(await openIdleSockets(relay.url, Math.min(PER_PROCESS, connections - opened)));
    }
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const loaded = processMemory(relay.child.pid).rssBytes;
    return {
      rssMibEmpty: empty / 2 ** 20,
      rssMibLoaded: loaded / 2 ** 20,
      bytesPerSocket: (loaded - empty) / connections,
    };
  } finally {
    for (const client of clients) {
      await client.stdin.close();
      await client.stdout.cancel().catch(() => {});
      await client.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
}

const BARE_SERVER = new URL("./bare_websocket_server.ts", import.meta.url).pathname;

/** RSS per socket of a server that does nothing but hold `Deno.upgradeWebSocket` sockets. */
async function bareDenoBytesPerSocket(count: number, settleMs: number): Promise<number> {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", BARE_SERVER],
    stdout: "piped",
  }).spawn();
  const sockets: WebSocket[] = [];
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const port = Number(/listening (\d+)/.exec((await reader.read()).value ?? "")?.[1]);
    reader.releaseLock();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const empty = processMemory(server.pid).rssBytes;
    for (let opened = 0; opened < count; opened += 200) {
      const batch = Math.min(200, count - opened);
      sockets.push(
        ...await Promise.all(
          Array.from({ length: batch }, () =>
            new Promise<WebSocket>((resolve, reject) => {
              const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
              socket.onopen = () => resolve(socket);
              socket.onerror = () => reject(new Error("A bare WebSocket failed to open"));
            })),
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return (processMemory(server.pid).rssBytes - empty) / count;
  } finally {
    for (const socket of sockets) socket.close();
    server.kill("SIGKILL");
    await server.status;
    await server.stdout.cancel().catch(() => {});
  }
}

/** Runs the scenario and prints its figures. */
export async function connections(
  options: {
    seconds: number;
    json: boolean;
    connections?: number;
    baseline?: boolean;
    settleMs?: number;
  },
) {
  const settleMs = options.settleMs ?? 3000;
  const requested = options.connections ?? 10_000;
  const { flags, fit: count } = descriptors(requested);
  if (count < requested) {
    console.error(
      `connections: ${count} sockets instead of ${requested}, as many as the open-file limit ` +
        `${openFileLimit()} holds behind the connection gate; raise ulimit -n`,
    );
  }
  const relay = await relayBytesPerSocket(count, settleMs, flags);
  const hocuspocus = options.baseline === false
    ? undefined
    : await hocuspocusBaseline({ connections: count }).catch((error) => {
      console.error(`Hocuspocus baseline skipped: ${(error as Error).message}`);
      return undefined;
    });
  const bare = await bareDenoBytesPerSocket(count, settleMs);
  const ratio = hocuspocus ? relay.bytesPerSocket / hocuspocus.bytesPerConnection : NaN;
  report({
    title: `connections: ${count} authenticated idle sockets`,
    json: options.json,
    rows: [
      [
        "relay RSS MiB before / with sockets",
        `${fixed(relay.rssMibEmpty)} / ${fixed(relay.rssMibLoaded)}`,
      ],
      ["relay KiB per socket", fixed(relay.bytesPerSocket / 1024, 2)],
      [
        "Hocuspocus KiB per connection",
        hocuspocus ? fixed(hocuspocus.bytesPerConnection / 1024, 2) : "not measured",
      ],
      ["ratio relay / Hocuspocus", fixed(ratio, 2)],
      ["bare Deno.upgradeWebSocket KiB per socket (floor)", fixed(bare / 1024, 2)],
      ["ratio relay / bare Deno (target ≤ 1.15)", fixed(relay.bytesPerSocket / bare, 2)],
    ],
    figures: {
      scenario: "connections",
      connections: count,
      relay_rss_mib_empty: relay.rssMibEmpty,
      relay_rss_mib_loaded: relay.rssMibLoaded,
      relay_bytes_per_socket: relay.bytesPerSocket,
      hocuspocus_bytes_per_connection: hocuspocus?.bytesPerConnection ?? null,
      ratio,
      bare_deno_bytes_per_socket: bare,
      ratio_to_bare: relay.bytesPerSocket / bare,
    },
  });
  return { relay, hocuspocus, ratio, bare };
}
