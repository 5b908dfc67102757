import assert from "node:assert/strict";
import { defaultConfig } from "../lib/config/mod.ts";
import { relayLimits } from "../lib/limits.ts";
import { fdBudget } from "../lib/guard/fd_budget.ts";
import { FULL_MEMORY } from "../lib/guard/memory_limit.ts";

const doc = Deno.readTextFileSync(new URL("../docs/OPERATIONS.md", import.meta.url));

/** `a.b.c` for every number (or rate) in a limits object. */
function boundPaths(value: unknown, prefix = ""): string[] {
  if (typeof value === "string") return []; // a note about a bound, not a bound
  if (typeof value !== "object" || value === null) return [prefix];
  if ("perSecond" in value && "burst" in value) return [prefix];
  return Object.entries(value).flatMap(([key, child]) =>
    boundPaths(child, prefix ? `${prefix}.${key}` : key)
  );
}

Deno.test("every bound of lib/limits.ts has a row in the limits table of docs/OPERATIONS.md", () => {
  const documented = new Set(
    doc.split("\n").map((line) => /^\| `([A-Za-z0-9.]+)` +\|/.exec(line)?.[1]).filter(Boolean),
  );
  const fds = fdBudget(1024, { p2p: true });
  const paths = boundPaths(
    relayLimits(defaultConfig(), { maxDbBytes: 1, fds, memory: FULL_MEMORY }),
  );
  assert.ok(paths.length > 40, "the walk found the bounds");
  const missing = paths.filter((path) => !documented.has(path));
  assert.deepEqual(missing, [], `bounds without a row: ${missing.join(", ")}`);
  const stale = [...documented].filter((path) => !paths.includes(path!));
  assert.deepEqual(stale, [], `rows for bounds that no longer exist: ${stale.join(", ")}`);
});
