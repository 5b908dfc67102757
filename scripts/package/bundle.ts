/**
 * The relay as one JavaScript file: `deno bundle main.ts`, everything inlined (our code and every
 * npm package), only `node:` built-ins left as imports. `deno compile` embeds the same module
 * graph (unbundled) in a binary; the bundle is how the embedded graph is proven here, where no
 * `denort` runtime is available (`tests/bundle_test.ts`), and its size is reported next to the
 * archive sizes by `deno task package`.
 *
 * Usage: deno run -A scripts/package/bundle.ts [OUT]   writes OUT (default dist/relay.bundle.js)
 *
 * @module
 */
import { join, resolve } from "node:path";

const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);

/** The `deno bundle` arguments that write the relay to `output`. */
export function bundleArgs(output: string): string[] {
  return [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--config",
    join(REPO_ROOT, "deno.json"),
    "--output",
    output,
    join(REPO_ROOT, "main.ts"),
  ];
}

/**
 * Bundles `main.ts` into `output` with the given `deno` (default: the running one) and returns
 * the bundle's size in bytes.
 *
 * @throws {Error} with deno's first error line when bundling fails.
 */
export async function bundleRelay(output: string, deno = Deno.execPath()): Promise<number> {
  const result = await new Deno.Command(deno, {
    args: bundleArgs(output),
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    const line = stderr.split("\n").find((l) => l.startsWith("error")) ?? stderr.trim();
    throw new Error(`deno bundle main.ts failed: ${line}`);
  }
  return (await Deno.stat(output)).size;
}

/**
 * The module specifiers a bundle still imports (static `import … from`, `export … from` and
 * literal `import()`): for the relay, only `node:` built-ins.
 */
export function bundleImports(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /^\s*(?:import|export)\s[^;"'`]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    // Not `{import('x').T}`, a type in a JSDoc comment.
    /(?<![\w.$`{])import\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.add(match[1]!);
  }
  return [...found].sort();
}

if (import.meta.main) {
  const output = resolve(Deno.args[0] ?? "dist/relay.bundle.js");
  const size = await bundleRelay(output);
  console.log(`${output}: ${size} bytes`);
}
