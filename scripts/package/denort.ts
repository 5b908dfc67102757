/**
 * Where `deno compile` gets the `denort` runtime for a target, checked before compiling so a
 * build without one stops with one clear line instead of a download error deep in the compile.
 *
 * Deno takes, in order: the file named by `DENORT_BIN` (used whatever the target, so the package
 * script reads the file's header and passes it only to the compile of the target it was built
 * for), its cache `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`, or a download from
 * dl.deno.land. Nothing else ever stands in for it.
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

/** Where a person gets the runtime for `target` by hand. */
export function denortReleasePage(denoVersion: string): string {
  return `https://github.com/denoland/deno/releases/tag/v${denoVersion}`;
}

const ELF_MACHINES: Readonly<Record<number, string>> = {
  62: "x86_64-unknown-linux-gnu",
  183: "aarch64-unknown-linux-gnu",
};
const MACHO_CPUS: Readonly<Record<number, string>> = {
  0x01000007: "x86_64-apple-darwin",
  0x0100000c: "aarch64-apple-darwin",
};
const PE_MACHINES: Readonly<Record<number, string>> = {
  0x8664: "x86_64-pc-windows-msvc",
  0xaa64: "aarch64-pc-windows-msvc",
};

/**
 * The Deno target an executable was built for, read from its ELF, thin Mach-O or PE header, or
 * `undefined` when the header is none of those.
 *
 * @example
 * ```ts
 * executableTarget(await Deno.readFile("denort")); // "x86_64-unknown-linux-gnu"
 * ```
 */
export function executableTarget(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 20 && view.getUint32(0) === 0x7f454c46) {
    return ELF_MACHINES[view.getUint16(18, true)];
  }
  if (bytes.length >= 8 && view.getUint32(0, true) === 0xfeedfacf) {
    return MACHO_CPUS[view.getUint32(4, true)];
  }
  if (bytes.length >= 64 && view.getUint16(0) === 0x4d5a) {
    const pe = view.getUint32(0x3c, true);
    if (pe + 6 <= bytes.length && view.getUint32(pe) === 0x50450000) {
      return PE_MACHINES[view.getUint16(pe + 4, true)];
    }
  }
  return undefined;
}

async function fileHead(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const head = new Uint8Array(4096);
  const read = await file.read(head);
  return head.subarray(0, read ?? 0);
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

/** No runtime for a target: why, and how a person provides one. */
export interface DenortMissing {
  readonly kind: "missing";
  /** Why there is none, e.g. `--offline was given`. */
  readonly reason: string;
}

/**
 * Finds the runtime for `target`, or says why there is none and what would provide it.
 * `DENORT_BIN` serves the target its header names; a file whose header names no known target is
 * used only when the run compiles that one target.
 */
export async function findDenort(
  target: string,
  lookup: DenortLookup,
): Promise<DenortSource | DenortMissing> {
  const cached = denortCachePath(lookup.denoDir, lookup.denoVersion, target);
  const url = denortUrl(lookup.denoVersion, target);
  const reasons: string[] = [];
  if (lookup.denortBin) {
    if (!isFile(lookup.denortBin)) {
      return {
        kind: "missing",
        reason: `DENORT_BIN ${JSON.stringify(lookup.denortBin)} is not a file`,
      };
    }
    const builtFor = executableTarget(await fileHead(lookup.denortBin));
    if (builtFor === target || (builtFor === undefined && lookup.targetCount === 1)) {
      return { kind: "env", path: lookup.denortBin };
    }
    reasons.push(
      builtFor === undefined
        ? "DENORT_BIN's file header names no known target, so it is used only when one target is built"
        : `DENORT_BIN is a runtime for ${builtFor}`,
    );
  }
  if (isFile(cached)) return { kind: "cache", path: cached };
  if (!lookup.offline && await reachable(url)) return { kind: "download", url };
  reasons.push(
    lookup.offline
      ? "not in Deno's cache and --offline was given"
      : "not in Deno's cache and dl.deno.land cannot be reached",
  );
  return { kind: "missing", reason: reasons.join("; ") };
}
