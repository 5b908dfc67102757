/**
 * The p2p benchmark on its own, kept for the README's command; the same as
 * `deno task bench p2p`.
 *
 * Usage: deno run -A scripts/bench_p2p.ts [--json] [--mib 64]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { p2p } from "./bench/p2p.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean", default: false }, mib: { type: "string", default: "64" } },
    strict: true,
  });
  await p2p({ seconds: 3, json: values.json, mib: Number(values.mib) });
  // See scripts/bench.ts: the in-process libp2p peers keep the event loop open after a transfer.
  Deno.exit(0);
}
