/**
 * Builds the release: bundles `main.ts` once (`deno bundle`), compiles that bundle for every
 * platform with `deno compile` (with exactly the `start` task's permissions and V8 flags), lays out
 * one archive per platform, then writes `SHA256SUMS` and the download page `index.html`. Run
 * `deno task package --help` for what it needs.
 *
 * Every input is checked before anything is compiled. A platform that lacks one is skipped, and
 * the run says what is missing and where to get it; the others are built. Exit status: 0 when at
 * least one archive was built and nothing failed, 1 when nothing could be built or a step failed,
 * 2 for a bad command line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join, relative, resolve } from "node:path";
import manifest from "../deno.json" with { type: "json" };
import { startTaskPermissions, startTaskV8Flags } from "./relay_process.ts";
import { bundleRelay, type RelayBundle } from "./package/bundle.ts";
import { denoDir, denortCachePath, type DenortSource } from "./package/denort.ts";
import { humanSize } from "./package/download_page.ts";
import {
  type MissingInput,
  planPlatforms,
  type PlatformPlan,
  remedies,
  SHAWL,
} from "./package/inputs.ts";
import { layOutArchive } from "./package/layout.ts";
import { findLipo, lipoCreate, removeCodeSignature } from "./package/macho.ts";
import { type PackagedFile, type Platform, platformNamed, PLATFORMS } from "./package/platforms.ts";
import { writeIndex } from "./package/release_index.ts";

const REPO_ROOT = resolve(new URL("..", import.meta.url).pathname);

/** A step of the build failed; its message is the one line printed. */
export class PackageError extends Error {
  override name = "PackageError";
}

/** A bad command line (exit status 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What one packaging run does. */
export interface PackageOptions {
  readonly platforms: readonly Platform[];
  readonly outDir: string;
  readonly shawl?: string | undefined;
  readonly offline: boolean;
  readonly indexOnly: boolean;
}

/** `deno task package --help`. */
export function packageHelp(denoVersion: string, cache: string): string {
  const names = PLATFORMS.map((p) => p.name).join(", ");
  return `Build the release archives of vaultmesh-relay ${manifest.version}, SHA256SUMS and index.html.
Each binary is deno compile of a deno bundle of main.ts, with the start task's permissions and
V8 flags (${startTaskV8Flags().join(" ")}).

Usage: deno task package [--platform NAME]... [--out DIR] [--shawl PATH] [--offline]
       deno task package --index-only [--out DIR]

Options:
  --platform NAME  ${names}
                   (repeatable; default all)
  --out DIR        output folder (default dist)
  --shawl PATH     shawl.exe for the Windows archive (or set SHAWL_EXE)
  --offline        never try dl.deno.land; only DENORT_BIN or Deno's cache provide a runtime
  --index-only     only rewrite SHA256SUMS and index.html for the archives already in DIR
  -h, --help       print this help

Inputs (checked before anything is compiled; a platform that lacks one is skipped, with a
note saying where to get it, and the others are built):
  denort ${denoVersion}   deno compile's runtime, one per target:
                 ${PLATFORMS.flatMap((p) => p.targets).join("\n                 ")}
                 Deno downloads it from https://dl.deno.land/release/v${denoVersion}/denort-<target>.zip;
                 without internet, put that zip (also among the assets of
                 https://github.com/denoland/deno/releases/tag/v${denoVersion}) at
                 ${cache}
                 or unzip it and set DENORT_BIN=/path/to/denort (used for the target its file
                 header names). The full deno binary is not a runtime: a binary built on it
                 opens a REPL. Each binary this machine can run is run with --version and
                 refused unless the relay answers.
  shawl.exe      Windows only, shawl ${SHAWL.version}, the service wrapper:
                 ${SHAWL.url}
                 (SHA-256 ${SHAWL.sha256});
                 unzip it, then pass --shawl PATH or set SHAWL_EXE.
  lipo           macOS only: lipo, llvm-lipo (Debian: apt-get install llvm) or LIPO=/path/to/lipo.

Exit status: 0 when at least one archive was built and nothing failed, 1 when nothing could be
built or a step failed, 2 for a bad command line.
`;
}

/** What one `deno compile` run builds. */
export interface CompileTarget {
  /** A `deno compile --target` value. */
  readonly target: string;
  /** The binary to write. */
  readonly output: string;
  /** The entry file of the relay's bundle ({@linkcode RelayBundle.entry}). */
  readonly entry: string;
}

/**
 * The `deno compile` arguments for one target: the `start` task's permissions (never `-A`) and
 * V8 flags, so the binary runs with the heap settings the relay is run and measured with, and the
 * relay's `deno bundle` rather than `main.ts`. The bundle imports only `node:` built-ins and its
 * own files, so the binary embeds those files and no npm package folder; `--config` keeps
 * deno.json's `unstable` features.
 */
export function compileArgs(compile: CompileTarget): string[] {
  return [
    "compile",
    ...startTaskPermissions(),
    ...startTaskV8Flags(),
    "--config",
    join(REPO_ROOT, "deno.json"),
    "--target",
    compile.target,
    "--output",
    compile.output,
    compile.entry,
  ];
}

/** The one line that says why `deno compile` failed: its error and the innermost cause. */
export function compileFailure(stderr: string): string {
  // deno colours its output unless NO_COLOR is set; strip any colour codes left.
  // deno-lint-ignore no-control-regex
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((line) => line.trim());
  const crash = lines.find((line) =>
    /overflowed its stack|panicked at|fatal runtime error/.test(line)
  );
  const error = lines.find((line) => line.startsWith("error:"))?.slice(6).trim() ?? crash ??
    lines.findLast((line) => line !== "") ?? "no output";
  const causedBy = lines.indexOf("Caused by:");
  const causes = [];
  for (const line of causedBy < 0 ? [] : lines.slice(causedBy + 1)) {
    if (line === "" || line.startsWith("Stack backtrace")) break;
    causes.push(line.replace(/^\d+: /, ""));
  }
  const cause = causes.at(-1);
  return cause && !error.includes(cause) ? `${error} (${cause})` : error;
}

function say(line: string): void {
  console.error(`package: ${line}`);
}

async function compile(target: CompileTarget, source: DenortSource): Promise<void> {
  // DENORT_BIN would be used for every target, so it reaches only the compile it is meant for.
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  if (source.kind === "env") env.DENORT_BIN = source.path;
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target),
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    throw new PackageError(
      `deno compile for ${target.target} failed: ${compileFailure(stderr)}`,
    );
  }
}

/**
 * Runs a freshly compiled binary of the host's own target with `--version` and checks that the
 * relay answers, so a binary built on the wrong runtime (such as the full `deno`, whose compiled
 * files open a REPL) is never archived. Binaries of other targets are run by the release workflow
 * on their own platform.
 */
async function checkRuns(binary: string, target: string): Promise<void> {
  if (target !== Deno.build.target) {
    say(`${target} binaries cannot run on this ${Deno.build.target} machine; not run`);
    return;
  }
  const output = await new Deno.Command(binary, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const printed = new TextDecoder().decode(output.stdout).trim();
  const expected = `vaultmesh-relay ${manifest.version}`;
  if (!output.success || printed !== expected) {
    throw new PackageError(
      `The compiled ${target} binary does not run the relay: --version printed ` +
        `${JSON.stringify(printed.split("\n")[0] ?? "")} (exit ${output.code}), expected ` +
        `${JSON.stringify(expected)}; was its runtime a real denort ${Deno.version.deno}?`,
    );
  }
  say(`${target} binary runs: ${printed}`);
}

/** Where a build happens: its options, a scratch folder and the bundle every target compiles. */
interface BuildContext {
  readonly options: PackageOptions;
  readonly buildDir: string;
  readonly bundle: RelayBundle;
}

/** Compiles the platform's targets and returns the path of its one binary. */
async function buildBinary(plan: PlatformPlan, context: BuildContext): Promise<string> {
  const { buildDir } = context;
  const { platform } = plan;
  const outputs: string[] = [];
  for (const target of platform.targets) {
    const source = plan.sources.get(target)!;
    const output = join(buildDir, target, platform.binary);
    await Deno.mkdir(join(buildDir, target), { recursive: true });
    say(`compiling ${target} (denort from ${source.kind === "env" ? "DENORT_BIN" : source.kind})`);
    await compile({ target, output, entry: context.bundle.entry }, source);
    await checkRuns(output, target);
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
  say(`${platform.name} binary holds ${archs.join(" and ")}`);
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

function describeMissing(missing: MissingInput): string {
  if (missing.kind === "denort") return `no denort for ${missing.target}`;
  return missing.kind === "shawl" ? "no shawl.exe" : "no lipo";
}

/** One line per platform, then each missing input once with why and where to get it. */
function reportPlans(plans: readonly PlatformPlan[], denoDir: string): void {
  const width = Math.max(...plans.map((plan) => plan.platform.name.length)) + 1;
  for (const plan of plans) {
    const name = plan.platform.name.padEnd(width);
    if (plan.missing.length === 0) {
      const sources = [...plan.sources.values()].map((s) =>
        s.kind === "env" ? "DENORT_BIN" : s.kind
      );
      say(`${name} ready (denort from ${[...new Set(sources)].join(" and ")})`);
    } else {
      say(`${name} skipped: ${plan.missing.map(describeMissing).join("; ")}`);
    }
  }
  const missing = plans.flatMap((plan) => plan.missing);
  if (missing.length === 0) return;
  say("missing inputs and where to get them:");
  const remedy = remedies(Deno.version.deno, denoDir);
  const byReason = Map.groupBy(missing.filter((m) => m.kind === "denort"), (m) => m.reason);
  for (const [reason, group] of byReason) {
    const targets = group.map((m) => m.kind === "denort" ? m.target : "").join(", ");
    console.error(`  denort ${Deno.version.deno} for ${targets}: ${reason}`);
  }
  for (const line of byReason.size > 0 ? remedy.denort : []) console.error(`    ${line}`);
  for (const kind of ["shawl", "lipo"] as const) {
    const first = missing.find((m) => m.kind === kind);
    if (!first) continue;
    console.error(`  ${kind === "shawl" ? "shawl.exe" : "lipo"}: ${first.reason}`);
    for (const line of remedy[kind]) console.error(`    ${line}`);
  }
}

async function buildPlatform(plan: PlatformPlan, context: BuildContext): Promise<string> {
  const { options } = context;
  const binary = await buildBinary(plan, context);
  const extraFiles: PackagedFile[] = plan.platform.needs.includes("shawl")
    ? [{ from: options.shawl!, to: "shawl.exe" }]
    : [];
  const mtime = Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? Date.now() / 1000) | 0;
  return await layOutArchive({
    version: manifest.version,
    platform: plan.platform,
    binary,
    repoRoot: REPO_ROOT,
    outDir: options.outDir,
    extraFiles,
    mtime,
  });
}

function sizeLine(label: string, bytes: number): string {
  return `  ${label.padEnd(52)} ${humanSize(bytes).padStart(9)}  (${
    bytes.toLocaleString("en-US")
  } bytes)`;
}

/** Prints each archive's size and the size of the bundle the binaries embed. */
function reportSizes(archives: readonly string[], bundle: RelayBundle): void {
  say("sizes:");
  for (const path of archives) console.error(sizeLine(basename(path), Deno.statSync(path).size));
  console.error(sizeLine(`the embedded bundle (${bundle.files.length} files)`, bundle.bytes));
}

/**
 * Runs a packaging build and returns its exit status.
 *
 * @throws {PackageError} when even the release index cannot be written.
 */
export async function packageRelease(options: PackageOptions): Promise<number> {
  const version = manifest.version;
  await Deno.mkdir(options.outDir, { recursive: true });
  if (options.indexOnly) {
    const archives = await writeIndex(options.outDir, version).catch((error: Error) => {
      throw new PackageError(error.message);
    });
    say(`wrote SHA256SUMS and index.html for ${archives.length} archives in ${options.outDir}`);
    return 0;
  }
  say(
    `vaultmesh-relay ${version} with deno ${Deno.version.deno} on ${Deno.build.target}, into ` +
      (relative(Deno.cwd(), options.outDir) || "."),
  );
  const cacheDir = await denoDir(Deno.execPath());
  const plans = await planPlatforms(options.platforms, {
    denoVersion: Deno.version.deno,
    denoDir: cacheDir,
    denortBin: Deno.env.get("DENORT_BIN"),
    offline: options.offline,
    shawl: options.shawl,
    lipo: findLipo(Deno.env.toObject()),
  });
  reportPlans(plans, cacheDir);
  const ready = plans.filter((plan) => plan.missing.length === 0);
  const skipped = plans.filter((plan) => plan.missing.length > 0).map((p) => p.platform.name);
  if (ready.length === 0) {
    say("built nothing: every platform lacks an input (listed above; --help explains them)");
    return 1;
  }
  const built: string[] = [];
  const failed: string[] = [];
  const buildDir = await Deno.makeTempDir({ dir: options.outDir, prefix: ".build-" });
  try {
    let bundle: RelayBundle;
    try {
      bundle = await bundleRelay(join(buildDir, "bundle"));
    } catch (error) {
      say(`built nothing: ${(error as Error).message}`);
      return 1;
    }
    say(`bundled main.ts into ${bundle.files.length} files (${humanSize(bundle.bytes)})`);
    for (const plan of ready) {
      try {
        const path = await buildPlatform(plan, { options, buildDir, bundle });
        say(`wrote ${path}`);
        built.push(path);
      } catch (error) {
        if (!(error instanceof PackageError)) throw error;
        say(`${plan.platform.name} failed: ${error.message}`);
        failed.push(plan.platform.name);
      }
    }
    if (built.length > 0) {
      await writeIndex(options.outDir, version);
      say(`wrote SHA256SUMS and index.html in ${options.outDir}`);
      reportSizes(built, bundle);
    }
  } finally {
    await Deno.remove(buildDir, { recursive: true });
  }
  say(
    `built ${built.length} of ${plans.length} platforms` +
      (skipped.length > 0 ? `; skipped ${skipped.join(", ")} (missing inputs above)` : "") +
      (failed.length > 0 ? `; failed ${failed.join(", ")}` : ""),
  );
  return built.length > 0 && failed.length === 0 ? 0 : 1;
}

/** Parses the command line; `undefined` means `--help`. */
export function parseOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): PackageOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        platform: { type: "string", multiple: true },
        out: { type: "string", default: "dist" },
        shawl: { type: "string" },
        offline: { type: "boolean", default: false },
        "index-only": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; run with --help for the options`);
  }
  if (values.help) return undefined;
  const platforms = [...new Set(values.platform ?? PLATFORMS.map((p) => p.name))].map((name) => {
    const platform = platformNamed(name);
    if (!platform) {
      throw new UsageError(
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
    shawl: values.shawl ?? env.SHAWL_EXE,
    offline: values.offline,
    indexOnly: values["index-only"],
  };
}

if (import.meta.main) {
  try {
    const options = parseOptions(Deno.args, Deno.env.toObject());
    if (!options) {
      const cache = denortCachePath(await denoDir(Deno.execPath()), Deno.version.deno, "<target>");
      console.log(packageHelp(Deno.version.deno, cache));
      Deno.exit(0);
    }
    Deno.exit(await packageRelease(options));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(message.split("\n")[0]!);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
