/**
 * Entry point: parse flags, start the relay, stop it gracefully on a signal.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ConfigError, helpText, parseCommand } from "./lib/config/mod.ts";
import { DatabaseRefusedError } from "./lib/store/database.ts";
import { Relay } from "./lib/relay.ts";
import { bannerLines } from "./lib/cli/banner.ts";
import { LOG_CATEGORY, setupLogging, teardownLogging } from "./lib/log.ts";
import { VERSION } from "./lib/version.ts";
import { runCheck } from "./lib/cli/check.ts";

const log = getLogger([LOG_CATEGORY, "main"]);

const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

function fail(message: string, status: number): never {
  console.error(`vaultmesh-relay: ${message}`);
  Deno.exit(status);
}

function stopOnSignals(relay: Relay): void {
  let received = false;
  const onSignal = () => {
    if (received) {
      console.error("vaultmesh-relay: second signal, exiting now");
      Deno.exit(1);
    }
    received = true;
    relay.stop().then(
      async () => {
        await teardownLogging();
        Deno.exit(0);
      },
      (error) => fail(`Stopping failed: ${(error as Error).message}`, 1),
    );
  };
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
}

function isListenError(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.PermissionDenied;
}

async function main(args: string[]): Promise<void> {
  let command;
  try {
    command = parseCommand(args, Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
  if (command.kind === "help") return console.log(helpText(VERSION));
  if (command.kind === "version") return console.log(`vaultmesh-relay ${VERSION}`);
  if (command.kind === "check") Deno.exit(await runCheck(command.url) ? 0 : 1);

  const { config } = command;
  await setupLogging(config.logLevel, config.logFormat);
  let relay: Relay;
  try {
    relay = await Relay.start(config);
  } catch (error) {
    if (error instanceof DatabaseRefusedError) fail(error.message, 1);
    // Matched by name: importing lib/p2p/ here would load libp2p even with --p2p-port 0.
    if ((error as Error).name === "P2pListenError") fail((error as Error).message, 1);
    if (isListenError(error)) {
      const { hostname, port } = config.listen;
      fail(`Cannot listen on ${hostname}:${port}: ${(error as Error).message}`, 1);
    }
    throw error;
  }
  stopOnSignals(relay);
  const p2pAddresses = relay.p2p?.multiaddrs() ?? [];
  for (
    const line of bannerLines({ version: VERSION, config, address: relay.address, p2pAddresses })
  ) {
    log.info(line);
  }
}

if (import.meta.main) await main(Deno.args);
