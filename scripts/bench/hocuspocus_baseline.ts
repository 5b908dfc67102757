/**
 * Baseline for the `connections` scenario: Hocuspocus (`@hocuspocus/server`, installed with npm
 * into a temporary folder and run with Node on 127.0.0.1) holding N idle WebSocket connections
 * in one room. Each client authenticates and sends a Yjs sync step 1 for the same document, so
 * the server counts it as a connection of that document. Reports the server's resident memory
 * per connection: (RSS with N idle connections - RSS before any) / N.
 *
 * Usage: deno run -A scripts/bench/hocuspocus_baseline.ts [--connections 2000] [--json]
 *
 * @module
 */
import { freePort } from "../relay_process.ts";
import { baselineArgs, fixed, report, stopBaseline } from "./_load.ts";
import { processMemory } from "./_memory.ts";

/** The version checked in the npm package list; pinned so runs compare. */
const HOCUSPOCUS_VERSION = "4.7.0";
const ROOM = "vaultmesh-bench";
const IDLE_MS = 3000;

const SERVER_SOURCE = `
import { Server } from "@hocuspocus/server";
const port = Number(process.argv[2]);
const server = new Server({ port, address: "127.0.0.1", quiet: true, stopOnSignals: true });
await server.listen();
console.log("listening " + server.address.port);
setInterval(() => {
  const h = server.hocuspocus;
  console.log("connections " + h.getConnectionsCount() + " documents " + h.getDocumentsCount());
}, 200);
`;

function varUint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

function varString(text: string): number[] {
  const utf8 = new TextEncoder().encode(text);
  return [...varUint(utf8.length), ...utf8];
}

/** lib0 encoding of Hocuspocus messages: document name, message type, payload. */
const AUTH_MESSAGE = new Uint8Array([...varString(ROOM), 2, 0, ...varString("")]);
const SYNC_STEP_1 = new Uint8Array([...varString(ROOM), 0, 0, ...varUint(1), 0]);

async function run(command: string, args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** Opens one client and resolves once the server has answered its authentication. */
function connect(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const { promise, resolve, reject } = Promise.withResolvers<WebSocket>();
  socket.onopen = () => socket.send(AUTH_MESSAGE);
  socket.onmessage = () => {
    socket.onmessage = null;
    socket.send(SYNC_STEP_1);
    resolve(socket);
  };
  socket.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  socket.onclose = () => reject(new Error(`WebSocket to ${url} closed before authentication`));
  return promise;
}

/** The baseline's figures. */
export interface HocuspocusFigures {
  readonly nodeVersion: string;
  readonly connections: number;
  readonly serverConnections: number;
  readonly rssMibEmpty: number;
  readonly rssMibLoaded: number;
  readonly bytesPerConnection: number;
}

/** Installs and starts Hocuspocus, opens `connections` idle clients, measures, stops it. */
export async function hocuspocusBaseline(
  options: { connections: number },
): Promise<HocuspocusFigures> {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-hocuspocus-" });
  const sockets: WebSocket[] = [];
  let child: Deno.ChildProcess | undefined;
  try {
    Deno.writeTextFileSync(`${dir}/package.json`, '{"private":true,"type":"module"}');
    Deno.writeTextFileSync(`${dir}/server.mjs`, SERVER_SOURCE);
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `@hocuspocus/server@${HOCUSPOCUS_VERSION}`,
    ], dir);
    const port = freePort();
    child = new Deno.Command("node", {
      args: ["server.mjs", String(port)],
      cwd: dir,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let latest = { connections: 0, listening: false };
    const lines = (async () => {
      let pending = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (pending + chunk).split("\n");
        pending = parts.pop()!;
        for (const line of parts) {
          if (line.startsWith("listening")) latest = { ...latest, listening: true };
          const match = /^connections (\d+)/.exec(line);
          if (match) latest = { ...latest, connections: Number(match[1]) };
        }
      }
    })();
    const until = async (ready: () => boolean, what: string) => {
      const deadline = Date.now() + 120_000;
      while (!ready()) {
        if (Date.now() > deadline) throw new Error(`Hocuspocus: timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await until(() => latest.listening, "it to listen");
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const empty = processMemory(child.pid).rssBytes;
    const url = `ws://127.0.0.1:${port}/${ROOM}`;
    for (let opened = 0; opened < options.connections; opened += 100) {
      const batch = Math.min(100, options.connections - opened);
      sockets.push(...await Promise.all(Array.from({ length: batch }, () => connect(url))));
    }
    await until(() => latest.connections >= options.connections, "every connection");
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const loaded = processMemory(child.pid).rssBytes;
    const serverConnections = latest.connections;
    const nodeVersion = new TextDecoder().decode(
      (await new Deno.Command("node", { args: ["--version"] }).output()).stdout,
    ).trim();
    const figures: HocuspocusFigures = {
      nodeVersion,
      connections: options.connections,
      serverConnections,
      rssMibEmpty: empty / 1024 / 1024,
      rssMibLoaded: loaded / 1024 / 1024,
      bytesPerConnection: (loaded - empty) / options.connections,
    };
    child.kill("SIGTERM");
    await child.status;
    await lines;
    child = undefined;
    return figures;
  } finally {
    for (const socket of sockets) {
      socket.onclose = null;
      socket.close();
    }
    await stopBaseline(child, dir);
  }
}

if (import.meta.main) {
  const options = baselineArgs("connections", 2000);
  const figures = await hocuspocusBaseline({ connections: options.value });
  report({
    title: `Hocuspocus ${HOCUSPOCUS_VERSION} (node ${figures.nodeVersion}): ` +
      `${figures.connections} idle WebSocket connections in one room`,
    json: options.json,
    rows: [
      ["connections the server counts", String(figures.serverConnections)],
      [
        "RSS MiB before / with connections",
        `${fixed(figures.rssMibEmpty)} / ${fixed(figures.rssMibLoaded)}`,
      ],
      ["RSS KiB per connection", fixed(figures.bytesPerConnection / 1024, 2)],
    ],
    figures: { scenario: "hocuspocus_baseline", ...figures },
  });
  Deno.exit(0);
}
