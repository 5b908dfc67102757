/**
 * Entry point: parse flags, start the relay, stop it gracefully on a signal or when the command
 * that launched it is gone.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ConfigError, helpText, helpWidth, parseCommand } from "./lib/config/mod.ts";
import { DatabaseRefusedError } from "./lib/store/database.ts";
import { Relay } from "./lib/relay.ts";
import { bannerLines } from "./lib/cli/banner.ts";
import { runCheck } from "./lib/cli/check.ts";
import { watchLauncher } from "./lib/cli/launcher.ts";
import { onStopSignals, SIGNAL_GRACE_MS } from "./lib/cli/signals.ts";
import { LOG_CATEGORY, setupLogging, teardownLogging, writeFatal } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";

const log = getLogger([LOG_CATEGORY, "main"]);

function fail(message: string, status: number): never {
  writeFatal(message);
  Deno.exit(status);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.stack ?? error.message : String(error);
}

/** An error nobody caught still ends the process with status 1, as a record in the log format. */
function exitOnUncaughtErrors(): void {
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    fail(`Unexpected error: ${describe(event.error)}`, 1);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fail(`Unexpected error: ${describe(event.reason)}`, 1);
  });
}

/** Stops the relay once, whatever asked first, and exits 0 when it stopped cleanly. */
function stopOnce(relay: Relay): (reason: string) => void {
  let stopping = false;
  return (reason) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: stopping`);
    relay.stop().then(
      async () => {
        await teardownLogging();
        Deno.exit(0);
      },
      (error) => fail(`Stopping failed: ${(error as Error).message}`, 1),
    );
  };
}

function isListenError(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.PermissionDenied;
}

async function startRelay(config: Parameters<typeof Relay.start>[0]): Promise<Relay> {
  try {
    return await Relay.start(config);
  } catch (error) {
    if (error instanceof DatabaseRefusedError) fail(error.message, 1);
    // Matched by name: importing lib/p2p/ here would load libp2p even with --p2p-port 0.
    if (["P2pListenError", "P2pKeyError"].includes((error as Error).name)) {
      fail((error as Error).message, 1);
    }
    if (isListenError(error)) {
      const { hostname, port } = config.listen;
      fail(`Cannot listen on ${hostname}:${port}: ${(error as Error).message}`, 1);
    }
    throw error;
  }
}

async function main(args: string[]): Promise<void> {
  const env = Deno.env.toObject();
  let command;
  try {
    command = parseCommand(args, env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
  if (command.kind === "help") return console.log(helpText(VERSION, { width: helpWidth() }));
  if (command.kind === "version") return console.log(`vaultmesh-relay ${VERSION}`);
  if (command.kind === "check") Deno.exit(await runCheck(command.url) ? 0 : 1);

  const { config } = command;
  await setupLogging(config.logLevel, config.logFormat);
  exitOnUncaughtErrors();
  const relay = await startRelay(config);
  const stop = stopOnce(relay);
  onStopSignals({
    stop: (signal) => stop(`Received ${signal}`),
    repeat: (signal) =>
      log.debug(`Received ${signal} again within ${SIGNAL_GRACE_MS} ms: the same stop request`),
    force: (signal) => fail(`Received ${signal} again: exiting now without finishing`, 1),
  });
  watchLauncher({ env, onGone: stop });
  const p2pAddresses = relay.p2p?.multiaddrs() ?? [];
  for (
    const line of bannerLines({
      version: VERSION,
      config,
      address: relay.address,
      p2pAddresses,
      maxDbBytes: relay.limits.modes.maxStoredBytes,
      openFiles: {
        limit: relay.limits.connections.openFileLimit,
        source: relay.limits.connections.openFileSource,
      },
      memory: {
        bytes: relay.limits.memory.limitBytes,
        source: relay.limits.memory.limitSource,
        budgetScale: relay.limits.memory.budgetScale,
        valve: relay.memoryValve !== undefined,
      },
    })
  ) {
    log.info(line);
  }
}

if (import.meta.main) await main(Deno.args);
