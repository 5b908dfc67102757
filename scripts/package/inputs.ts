/**
 * What a packaging run needs besides the source, checked for every platform before anything is
 * compiled: a `denort` runtime per target, `shawl.exe` for Windows and `lipo` for the macOS
 * universal binary. A platform that lacks one is skipped, and the run says where to get it.
 *
 * @module
 */
import {
  denortCachePath,
  type DenortLookup,
  denortReleasePage,
  type DenortSource,
  denortUrl,
  executableTarget,
  findDenort,
} from "./denort.ts";
import type { Platform } from "./platforms.ts";

const SHAWL_VERSION = "1.9.0";

/** The shawl release the Windows archive ships (pinned; the release workflow uses the same). */
export const SHAWL = {
  version: SHAWL_VERSION,
  url: `https://github.com/mtkennerly/shawl/releases/download/v${SHAWL_VERSION}/` +
    `shawl-v${SHAWL_VERSION}-win64.zip`,
  /** SHA-256 of the release zip. */
  sha256: "f883c5d09c9beae2efaeabd8513e7d3f57cd1d0864cec3df4f4a7b6ee904351c",
} as const;

/** One input a platform lacks. */
export type MissingInput =
  | { readonly kind: "denort"; readonly target: string; readonly reason: string }
  | { readonly kind: "shawl" | "lipo"; readonly reason: string };

/** A platform with the runtime source of each target, and what it lacks (empty: buildable). */
export interface PlatformPlan {
  readonly platform: Platform;
  readonly sources: ReadonlyMap<string, DenortSource>;
  readonly missing: readonly MissingInput[];
}

/** What the check may consult besides the denort look-up. */
export interface InputLookup extends Omit<DenortLookup, "targetCount"> {
  /** `--shawl` or `SHAWL_EXE`. */
  readonly shawl?: string | undefined;
  /** The `lipo` found (`LIPO`, `lipo`, `llvm-lipo`), if any. */
  readonly lipo?: string | undefined;
}

async function shawlProblem(path: string | undefined): Promise<string | undefined> {
  if (!path) return "no --shawl PATH given and SHAWL_EXE is not set";
  let head: Uint8Array;
  try {
    using file = await Deno.open(path);
    head = new Uint8Array(4096);
    head = head.subarray(0, await file.read(head) ?? 0);
  } catch {
    return `${JSON.stringify(path)} is not a readable file`;
  }
  const target = executableTarget(head);
  return target === "x86_64-pc-windows-msvc"
    ? undefined
    : `${JSON.stringify(path)} is not an x86-64 Windows executable`;
}

/** What a person does to provide each kind of input, as lines; `<target>` stands for a target. */
export function remedies(
  denoVersion: string,
  denoDir: string,
): Record<MissingInput["kind"], readonly string[]> {
  return {
    denort: [
      `get ${denortUrl(denoVersion, "<target>")}`,
      `(also among the assets of ${denortReleasePage(denoVersion)})`,
      `and put it at ${denortCachePath(denoDir, denoVersion, "<target>")},`,
      "or unzip it and set DENORT_BIN=/path/to/denort (serves the target its file header names);",
      "the full deno binary is no substitute: a binary built on it does not run the relay",
    ],
    shawl: [
      `download ${SHAWL.url}`,
      `(SHA-256 ${SHAWL.sha256}),`,
      "unzip shawl.exe, then pass --shawl PATH or set SHAWL_EXE",
    ],
    lipo: ["install LLVM (Debian: apt-get install llvm; macOS has lipo) or set LIPO=/path/to/lipo"],
  };
}

/** Checks every input of every platform; never throws for a missing input. */
export async function planPlatforms(
  platforms: readonly Platform[],
  lookup: InputLookup,
): Promise<PlatformPlan[]> {
  const targetCount = platforms.reduce((sum, platform) => sum + platform.targets.length, 0);
  const shawl = platforms.some((p) => p.needs.includes("shawl"))
    ? await shawlProblem(lookup.shawl)
    : undefined;
  return await Promise.all(platforms.map(async (platform) => {
    const sources = new Map<string, DenortSource>();
    const missing: MissingInput[] = [];
    for (const target of platform.targets) {
      const source = await findDenort(target, { ...lookup, targetCount });
      if (source.kind === "missing") {
        missing.push({ kind: "denort", target, reason: source.reason });
      } else sources.set(target, source);
    }
    if (platform.needs.includes("shawl") && shawl) missing.push({ kind: "shawl", reason: shawl });
    if (platform.needs.includes("lipo") && !lookup.lipo) {
      missing.push({
        kind: "lipo",
        reason: "LIPO is not set and no lipo, llvm-lipo or llvm-lipo-NN is on PATH",
      });
    }
    return { platform, sources, missing };
  }));
}
