/**
 * `deno task bench <scenario> [--seconds N] [--json]`: runs one benchmark scenario on loopback
 * and prints its figures. Every scenario starts what it measures and stops it again.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ingest } from "./bench/ingest.ts";

const SCENARIOS: Record<string, (options: { seconds: number; json: boolean }) => Promise<unknown>> =
  {
    ingest,
  };

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const name = positionals[0] ?? "";
  const scenario = SCENARIOS[name];
  const seconds = Number(values.seconds);
  if (!scenario || !(seconds > 0)) {
    console.error(
      `Usage: deno task bench <${Object.keys(SCENARIOS).join("|")}> [--seconds N] [--json]`,
    );
    Deno.exit(2);
  }
  await scenario({ seconds, json: values.json });
}
