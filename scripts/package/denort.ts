/**
 * Where `deno compile` gets the `denort` runtime for a target, checked before compiling so a
 * build without one stops with one clear line instead of a download error deep in the compile.
 *
 * Deno takes, in order: the file named by `DENORT_BIN` (used whatever the target, so only for a
 * run that compiles one target), its cache `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`,
 * or a download from dl.deno.land. Nothing else ever stands in for it.
 *
 * @module
 */
import { join } from "node:path";

/** Where the runtime for one target comes from. */
export type DenortSource =
  | { readonly kind: "env"; readonly path: string }
  | { readonly kind: "cache"; readonly path: string }
  | { readonly kind: "download"; readonly url: string };

/** What the look-up may consult. */
export interface DenortLookup {
  /** Version of the `deno` that compiles, e.g. `2.9.6`; the runtime must match it. */
  readonly denoVersion: string;
  /** Deno's cache folder (`deno info --json` `denoDir`). */
  readonly denoDir: string;
  /** Value of `DENORT_BIN`, if set. */
  readonly denortBin?: string | undefined;
  /** How many targets this run compiles. */
  readonly targetCount: number;
  /** Do not try dl.deno.land. */
  readonly offline: boolean;
}

/** `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`. */
export function denortCachePath(denoDir: string, denoVersion: string, target: string): string {
  return join(denoDir, "dl", "release", `v${denoVersion}`, `denort-${target}.zip`);
}

/** The URL `deno compile` downloads the runtime from. */
export function denortUrl(denoVersion: string, target: string): string {
  return `https://dl.deno.land/release/v${denoVersion}/denort-${target}.zip`;
}

/** The Deno cache folder the given `deno` uses (honours `DENO_DIR`). */
export async function denoDir(deno: string): Promise<string> {
  const output = await new Deno.Command(deno, {
    args: ["info", "--json"],
    stdin: "null",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { denoDir?: unknown };
  if (!output.success || typeof info.denoDir !== "string") {
    throw new Error(`Cannot read the Deno cache folder from ${JSON.stringify(deno)} info --json`);
  }
  return info.denoDir;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Finds the runtime for `target`, or returns the one line that says why there is none and what
 * would provide it.
 */
export async function findDenort(
  target: string,
  lookup: DenortLookup,
): Promise<DenortSource | { readonly kind: "missing"; readonly message: string }> {
  if (lookup.denortBin) {
    if (!isFile(lookup.denortBin)) {
      return {
        kind: "missing",
        message: `Cannot compile for ${target}: DENORT_BIN ${
          JSON.stringify(lookup.denortBin)
        } is not a file`,
      };
    }
    if (lookup.targetCount !== 1) {
      return {
        kind: "missing",
        message: `Cannot compile for ${target}: DENORT_BIN names one runtime but this run ` +
          `compiles ${lookup.targetCount} targets; choose one platform with --platform`,
      };
    }
    return { kind: "env", path: lookup.denortBin };
  }
  const cached = denortCachePath(lookup.denoDir, lookup.denoVersion, target);
  if (isFile(cached)) return { kind: "cache", path: cached };
  const url = denortUrl(lookup.denoVersion, target);
  if (!lookup.offline && await reachable(url)) return { kind: "download", url };
  const why = lookup.offline ? "--offline was given" : `${url} cannot be reached`;
  return {
    kind: "missing",
    message: `Cannot compile for ${target}: no denort ${lookup.denoVersion} runtime ` +
      `(${why}); set DENORT_BIN=/path/to/denort or put ${cached} in place`,
  };
}
