/**
 * The relay as a `deno bundle` of `main.ts`: our code and every npm package inlined, only `node:`
 * built-ins left as imports, code split so the parts `main.ts` loads lazily (libp2p, Prometheus)
 * stay lazy. This is what `deno task package` compiles into each release binary (an idle relay
 * from a bundle holds about a third less anonymous memory than from source: `bench footprint`),
 * what `bench footprint` measures, and what `tests/bundle_test.ts` runs with nothing else at hand.
 *
 * Usage: deno run -A scripts/package/bundle.ts [DIR]   writes DIR (default dist/relay-bundle)
 *
 * @module
 */
import { join, resolve } from "node:path";

const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);

/** The entry file of a bundle folder: `main.ts` bundled. */
export const BUNDLE_ENTRY = "main.js";

/** The `deno bundle` arguments that write the relay into the folder `outDir`. */
export function bundleArgs(outDir: string): string[] {
  return [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--config",
    join(REPO_ROOT, "deno.json"),
    "--outdir",
    outDir,
    join(REPO_ROOT, "main.ts"),
  ];
}

/** A bundle written by {@linkcode bundleRelay}. */
export interface RelayBundle {
  /** The folder holding the bundle's files. */
  readonly dir: string;
  /** The file to run or compile (`dir/main.js`); it imports the others. */
  readonly entry: string;
  /** Every file of the bundle (names inside `dir`), sorted. */
  readonly files: readonly string[];
  /** Their total size in bytes. */
  readonly bytes: number;
}

/**
 * Bundles `main.ts` into the folder `outDir` (created if needed; it should be empty) with the
 * given `deno` (default: the running one).
 *
 * @throws {Error} with deno's first error line when bundling fails.
 */
export async function bundleRelay(outDir: string, deno = Deno.execPath()): Promise<RelayBundle> {
  const result = await new Deno.Command(deno, {
    args: bundleArgs(outDir),
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
  const files = [...Deno.readDirSync(outDir)].filter((e) => e.isFile).map((e) => e.name).sort();
  if (!files.includes(BUNDLE_ENTRY)) {
    throw new Error(`deno bundle main.ts wrote no ${BUNDLE_ENTRY} in ${outDir}`);
  }
  const bytes = files.reduce((sum, name) => sum + Deno.statSync(join(outDir, name)).size, 0);
  return { dir: outDir, entry: join(outDir, BUNDLE_ENTRY), files, bytes };
}

/**
 * The module specifiers a bundle file still imports (static `import … from`, `export … from` and
 * literal `import()`): for the relay, `node:` built-ins and the bundle's own `./` files.
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
  const bundle = await bundleRelay(resolve(Deno.args[0] ?? "dist/relay-bundle"));
  console.log(`${bundle.entry}: ${bundle.files.length} files, ${bundle.bytes} bytes`);
}
