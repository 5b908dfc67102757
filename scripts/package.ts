/**
 * Builds the release: compiles the relay for every platform with `deno compile` (with exactly the
 * `start` task's permissions), lays out one archive per platform, then writes `SHA256SUMS` and the
 * download page `index.html`.
 *
 * Usage: deno task package [--platform NAME]... [--out DIR] [--shawl PATH] [--offline]
 *                          [--index-only]
 *
 *   --platform    linux-x64, macos-universal or windows-x64 (repeatable; default all three)
 *   --out         output folder (default dist)
 *   --shawl       shawl.exe to ship in the Windows archive (or SHAWL_EXE); required for Windows
 *   --offline     never try dl.deno.land; only DENORT_BIN or Deno's cache provide a runtime
 *   --index-only  only (re)write SHA256SUMS and index.html for the archives already in --out
 *
 * Any condition that stops the build is reported as one line on stderr, exit status 1.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import manifest from "../deno.json" with { type: "json" };
import { startTaskPermissions } from "./relay_process.ts";
import { downloadPageHtml } from "./download_page.ts";
import { describeFiles, writeChecksums } from "./package/checksums.ts";
import { denoDir, type DenortSource, findDenort } from "./package/denort.ts";
import { layOutArchive } from "./package/layout.ts";
import { findLipo, lipoCreate, removeCodeSignature } from "./package/macho.ts";
import {
  archiveFileName,
  type PackagedFile,
  type Platform,
  platformNamed,
  PLATFORMS,
} from "./package/platforms.ts";

const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** A condition that stops the build; its message is the one line printed. */
export class PackageError extends Error {
  override name = "PackageError";
}

/** What one packaging run does. */
export interface PackageOptions {
  readonly platforms: readonly Platform[];
  readonly outDir: string;
  readonly shawl?: string | undefined;
  readonly offline: boolean;
  readonly indexOnly: boolean;
}

/** The `deno compile` arguments for one target: the relay's permissions, never `-A`. */
export function compileArgs(target: string, output: string): string[] {
  return [
    "compile",
    ...startTaskPermissions(),
    "--config",
    join(REPO_ROOT, "deno.json"),
    "--target",
    target,
    "--output",
    output,
    join(REPO_ROOT, "main.ts"),
  ];
}

/** The one line that says why `deno compile` failed: its error and the innermost cause. */
export function compileFailure(stderr: string): string {
  // deno colours its output unless NO_COLOR is set; strip any colour codes left.
  // deno-lint-ignore no-control-regex
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((line) => line.trim());
  const error = lines.find((line) => line.startsWith("error:"))?.slice(6).trim() ??
    lines.find((line) => line !== "") ?? "no output";
  const causedBy = lines.indexOf("Caused by:");
  const causes = [];
  for (const line of causedBy < 0 ? [] : lines.slice(causedBy + 1)) {
    if (line === "" || line.startsWith("Stack backtrace")) break;
    causes.push(line.replace(/^\d+: /, ""));
  }
  const cause = causes.at(-1);
  return cause && !error.includes(cause) ? `${error} (${cause})` : error;
}

async function compile(target: string, output: string, source: DenortSource): Promise<void> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (source.kind === "env") env.DENORT_BIN = source.path;
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target, output),
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    throw new PackageError(`deno compile for ${target} failed: ${compileFailure(stderr)}`);
  }
}

/** Checks everything a build needs before it starts; returns the runtime source per target. */
async function preflight(options: PackageOptions): Promise<Map<string, DenortSource>> {
  if (options.platforms.some((p) => p.name === "windows-x64")) {
    if (!options.shawl) {
      throw new PackageError(
        "Cannot package windows-x64: no shawl.exe given; pass --shawl PATH or set SHAWL_EXE " +
          "(the release job downloads it pinned), or leave Windows out with --platform",
      );
    }
    if (!isFile(options.shawl)) {
      throw new PackageError(
        `Cannot package windows-x64: --shawl ${JSON.stringify(options.shawl)} is not a file`,
      );
    }
  }
  if (options.platforms.some((p) => p.targets.length > 1) && !findLipo(Deno.env.toObject())) {
    throw new PackageError(
      "Cannot package macos-universal: no lipo found; install llvm (llvm-lipo) or set LIPO",
    );
  }
  const targets = options.platforms.flatMap((platform) => platform.targets);
  const lookup = {
    denoVersion: Deno.version.deno,
    denoDir: await denoDir(Deno.execPath()),
    denortBin: Deno.env.get("DENORT_BIN"),
    targetCount: targets.length,
    offline: options.offline,
  };
  const sources = new Map<string, DenortSource>();
  for (const target of targets) {
    const source = await findDenort(target, lookup);
    if (source.kind === "missing") throw new PackageError(source.message);
    sources.set(target, source);
  }
  return sources;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Compiles the platform's targets and returns the path of its one binary. */
async function buildBinary(
  platform: Platform,
  buildDir: string,
  sources: Map<string, DenortSource>,
): Promise<string> {
  const outputs: string[] = [];
  for (const target of platform.targets) {
    const output = join(buildDir, target, platform.binary);
    await Deno.mkdir(join(buildDir, target), { recursive: true });
    console.error(`package: compiling ${target} (denort from ${sources.get(target)!.kind})`);
    await compile(target, output, sources.get(target)!);
    outputs.push(output);
  }
  if (outputs.length === 1) return outputs[0]!;
  if (Deno.build.os !== "darwin") {
    // Compiled off macOS, the x86_64 slice still carries the runtime's now stale signature.
    for (const output of outputs.filter((_, i) => platform.targets[i]!.startsWith("x86_64"))) {
      await Deno.writeFile(output, removeCodeSignature(await Deno.readFile(output)));
    }
  }
  const universal = join(buildDir, platform.name, platform.binary);
  await Deno.mkdir(join(buildDir, platform.name), { recursive: true });
  const archs = await lipoCreate(findLipo(Deno.env.toObject())!, {
    inputs: outputs,
    output: universal,
  });
  console.error(`package: ${platform.name} binary holds ${archs.join(" and ")}`);
  if (Deno.build.os === "darwin") {
    for (const arch of archs) {
      const verify = await new Deno.Command("codesign", {
        args: ["--verify", "--strict", "--verbose=2", "--arch", arch, universal],
      }).output();
      if (!verify.success) {
        throw new PackageError(`codesign --verify failed for the ${arch} slice of ${universal}`);
      }
    }
  }
  await Deno.chmod(universal, 0o755);
  return universal;
}

/** Archives of this version already in `outDir`, in platform order. */
export function archivesIn(outDir: string, version: string): string[] {
  return PLATFORMS.map((platform) => join(outDir, archiveFileName(version, platform)))
    .filter(isFile);
}

/** Writes `SHA256SUMS` and `index.html` for the archives in `outDir`. */
export async function writeIndex(outDir: string, version: string): Promise<void> {
  const archives = await describeFiles(archivesIn(outDir, version));
  if (archives.length === 0) {
    throw new PackageError(`No vaultmesh-relay-v${version} archives in ${JSON.stringify(outDir)}`);
  }
  await writeChecksums(outDir, archives);
  await Deno.writeTextFile(join(outDir, "index.html"), downloadPageHtml({ version, archives }));
}

/** Runs a packaging build. */
export async function packageRelease(options: PackageOptions): Promise<void> {
  const version = manifest.version;
  await Deno.mkdir(options.outDir, { recursive: true });
  if (!options.indexOnly) {
    const sources = await preflight(options);
    const buildDir = await Deno.makeTempDir({ dir: options.outDir, prefix: ".build-" });
    try {
      for (const platform of options.platforms) {
        const binary = await buildBinary(platform, buildDir, sources);
        const extraFiles: PackagedFile[] = platform.name === "windows-x64"
          ? [{ from: options.shawl!, to: "shawl.exe" }]
          : [];
        const mtime = Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? Date.now() / 1000) | 0;
        const path = await layOutArchive({
          version,
          platform,
          binary,
          repoRoot: REPO_ROOT,
          outDir: options.outDir,
          extraFiles,
          mtime,
        });
        console.error(`package: wrote ${path}`);
      }
    } finally {
      await Deno.remove(buildDir, { recursive: true });
    }
  }
  await writeIndex(options.outDir, version);
  console.error(`package: wrote SHA256SUMS and index.html in ${options.outDir}`);
}

function parseOptions(args: string[]): PackageOptions {
  const { values } = parseArgs({
    args,
    options: {
      platform: { type: "string", multiple: true },
      out: { type: "string", default: "dist" },
      shawl: { type: "string" },
      offline: { type: "boolean", default: false },
      "index-only": { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const platforms = (values.platform ?? PLATFORMS.map((p) => p.name)).map((name) => {
    const platform = platformNamed(name);
    if (!platform) {
      throw new PackageError(
        `Unknown --platform ${JSON.stringify(name)}: expected ${
          PLATFORMS.map((p) => p.name).join(", ")
        }`,
      );
    }
    return platform;
  });
  return {
    platforms,
    outDir: resolve(values.out),
    shawl: values.shawl ?? Deno.env.get("SHAWL_EXE"),
    offline: values.offline,
    indexOnly: values["index-only"],
  };
}

if (import.meta.main) {
  try {
    await packageRelease(parseOptions(Deno.args));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`package: ${message.split("\n")[0]}`);
    Deno.exit(1);
  }
}
