/**
 * `deno task bench <scenario> [--seconds N] [--json] [--only NAME,...]`: runs one benchmark
 * scenario on loopback and prints its figures. Every scenario starts what it measures and stops
 * it again. `--only` picks rows of scenarios made of several (`abuse`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ingest } from "./bench/ingest.ts";
import { footprint } from "./bench/footprint.ts";
import { drain } from "./bench/drain.ts";
import { soak } from "./bench/soak.ts";
import { p2p } from "./bench/p2p.ts";
import { forward } from "./bench/forward.ts";
import { connections } from "./bench/connections.ts";
import { abuse } from "./bench/abuse.ts";
import { mixed } from "./bench/mixed.ts";
import { replayCache } from "./bench/replay_cache.ts";

type Scenario = (
  options: { seconds: number; json: boolean; only?: readonly string[] },
) => Promise<unknown>;

/** Each scenario with its default `--seconds`. */
const SCENARIOS: Record<string, { run: Scenario; seconds: number }> = {
  ingest: { run: ingest, seconds: 5 },
  footprint: { run: footprint, seconds: 3 },
  drain: { run: drain, seconds: 1 },
  soak: { run: soak, seconds: 600 },
  p2p: { run: p2p, seconds: 3 },
  forward: { run: forward, seconds: 3 },
  connections: { run: connections, seconds: 1 },
  abuse: { run: abuse, seconds: 15 },
  mixed: { run: mixed, seconds: 20 },
  "replay-cache": { run: replayCache, seconds: 1 },
};

/** The usage line, listing every scenario. */
function usage(): string {
  return `Usage: deno task bench <${
    Object.keys(SCENARIOS).join("|")
  }> [--seconds N] [--json] [--only NAME,...]`;
}

/** The scenario, its options, and whether help was asked for; throws on a bad command line. */
function parseCommandLine(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      seconds: { type: "string" },
      json: { type: "boolean", default: false },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { help: true } as const;
  const name = positionals[0] ?? "";
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(name ? `Unknown scenario "${name}"` : "No scenario given");
  const seconds = values.seconds === undefined ? scenario.seconds : Number(values.seconds);
  if (!(seconds > 0)) {
    throw new Error(`--seconds must be a positive number, not "${values.seconds}"`);
  }
  const only = values.only?.split(",").map((name) => name.trim()).filter(Boolean);
  return { help: false, scenario, seconds, json: values.json, only } as const;
}

if (import.meta.main) {
  let command: ReturnType<typeof parseCommandLine>;
  try {
    command = parseCommandLine(Deno.args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${usage()}`);
    Deno.exit(2);
  }
  if (command.help) {
    console.log(usage());
    Deno.exit(0);
  }
  const { scenario, seconds, json, only } = command;
  await scenario.run({ seconds, json, ...(only ? { only } : {}) });
  // After a large relayed transfer (scenario p2p) something of the stopped in-process libp2p
  // peers still holds the event loop open; every scenario has stopped what it started by now.
  Deno.exit(0);
}
