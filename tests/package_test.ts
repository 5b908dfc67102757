import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { basename, dirname, join } from "node:path";
import manifest from "../deno.json" with { type: "json" };
import { compileArgs, compileFailure, parseOptions } from "../scripts/package.ts";
import { bundleRelay } from "../scripts/package/bundle.ts";
import { checksumsText, describeFiles } from "../scripts/package/checksums.ts";
import { archivesIn, writeIndex } from "../scripts/package/release_index.ts";
import { SHAWL } from "../scripts/package/inputs.ts";
import { layOutArchive } from "../scripts/package/layout.ts";
import { archiveFileName, platformNamed, PLATFORMS } from "../scripts/package/platforms.ts";
import { denoDir, denortCachePath, executableTarget } from "../scripts/package/denort.ts";
import { startTaskPermissions, startTaskV8Flags } from "../scripts/relay_process.ts";
import { REPO_ROOT, run, tool, writeFixtureBinary } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";

const VERSION = manifest.version;
const SHAWL_FIXTURE = "test fixture standing in for shawl.exe\n";

/** Lays out every platform's archive around test fixtures in `dir/dist`. */
async function layOutAll(dir: string): Promise<string> {
  const outDir = join(dir, "dist");
  Deno.mkdirSync(outDir);
  const binary = writeFixtureBinary(dir);
  const shawl = join(dir, "shawl-fixture.exe");
  Deno.writeTextFileSync(shawl, SHAWL_FIXTURE);
  for (const platform of PLATFORMS) {
    await layOutArchive({
      version: VERSION,
      platform,
      binary,
      repoRoot: REPO_ROOT,
      outDir,
      extraFiles: platform.name === "windows-x64" ? [{ from: shawl, to: "shawl.exe" }] : [],
      mtime: 1_700_000_000,
    });
  }
  return outDir;
}

function listFiles(dir: string, prefix = ""): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const name = prefix + entry.name;
    if (entry.isDirectory) names.push(...listFiles(join(dir, entry.name), name + "/"));
    else names.push(name);
  }
  return names.sort();
}

Deno.test("archive names carry the version and the platform", () => {
  assert.deepEqual(PLATFORMS.map((platform) => archiveFileName("1.2.3", platform)), [
    "vaultmesh-relay-v1.2.3-linux-x64.tar.gz",
    "vaultmesh-relay-v1.2.3-linux-arm64.tar.gz",
    "vaultmesh-relay-v1.2.3-macos-universal.tar.gz",
    "vaultmesh-relay-v1.2.3-windows-x64.zip",
  ]);
});

for (const name of ["linux-x64", "linux-arm64"]) {
  Deno.test(`${name} archive extracts with tar to its own folder with an executable binary, README, LICENSE, the systemd unit and its settings file`, async () => {
    using dir = tempDir();
    const outDir = await layOutAll(dir.path);
    const stem = `vaultmesh-relay-v${VERSION}-${name}`;
    const extract = await run("tar", { args: ["-xzf", `${stem}.tar.gz`], cwd: outDir });
    assert.equal(extract.code, 0, extract.stderr);
    assert.deepEqual(listFiles(join(outDir, stem)), [
      "LICENSE",
      "README.md",
      "systemd/README.md",
      "systemd/vaultmesh-relay.env",
      "systemd/vaultmesh-relay.service",
      "vaultmesh-relay",
    ]);
    assert.equal(
      Deno.readTextFileSync(join(outDir, stem, "systemd/vaultmesh-relay.env")),
      Deno.readTextFileSync(join(REPO_ROOT, "packaging/systemd/vaultmesh-relay.env")),
    );
  });
}

Deno.test("linux archive's binary is executable and its unit is the repository's", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  const stem = `vaultmesh-relay-v${VERSION}-linux-x64`;
  const extract = await run("tar", { args: ["-xzf", `${stem}.tar.gz`], cwd: outDir });
  assert.equal(extract.code, 0, extract.stderr);
  const binaryMode = Deno.statSync(join(outDir, stem, "vaultmesh-relay")).mode! & 0o777;
  assert.equal(binaryMode, 0o755);
  assert.equal(Deno.statSync(join(outDir, stem, "README.md")).mode! & 0o777, 0o644);
  assert.equal(
    Deno.readTextFileSync(join(outDir, stem, "systemd/vaultmesh-relay.service")),
    Deno.readTextFileSync(join(REPO_ROOT, "packaging/systemd/vaultmesh-relay.service")),
  );
  const ran = await run(join(outDir, stem, "vaultmesh-relay"), { args: [] });
  assert.equal(ran.stdout.trim(), "test fixture, not a relay");
});

Deno.test("tar lists every member of the linux archive under one folder with the binary as -rwxr-xr-x", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  const stem = `vaultmesh-relay-v${VERSION}-linux-x64`;
  const listing = await run("tar", { args: ["-tvzf", `${stem}.tar.gz`], cwd: outDir });
  assert.equal(listing.code, 0, listing.stderr);
  const lines = listing.stdout.trim().split("\n");
  for (const line of lines) assert.match(line, new RegExp(` ${stem}/`));
  const binary = lines.find((line) => line.endsWith(`${stem}/vaultmesh-relay`));
  assert.match(binary ?? "", /^-rwxr-xr-x /);
  assert.match(lines.find((line) => line.endsWith("/LICENSE")) ?? "", /^-rw-r--r-- /);
});

Deno.test("macOS archive extracts to its own folder with an executable binary, README and LICENSE", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  const stem = `vaultmesh-relay-v${VERSION}-macos-universal`;
  const extract = await run("tar", { args: ["-xzf", `${stem}.tar.gz`], cwd: outDir });
  assert.equal(extract.code, 0, extract.stderr);
  assert.deepEqual(listFiles(join(outDir, stem)), ["LICENSE", "README.md", "vaultmesh-relay"]);
  assert.equal(Deno.statSync(join(outDir, stem, "vaultmesh-relay")).mode! & 0o777, 0o755);
});

Deno.test({
  name:
    "windows zip extracts with unzip to its own folder with the exe, shawl and the service scripts",
  ignore: !tool("unzip"),
  fn: async () => {
    using dir = tempDir();
    const outDir = await layOutAll(dir.path);
    const stem = `vaultmesh-relay-v${VERSION}-windows-x64`;
    const test = await run("unzip", { args: ["-t", `${stem}.zip`], cwd: outDir });
    assert.equal(test.code, 0, test.stdout + test.stderr);
    const extract = await run("unzip", { args: ["-q", `${stem}.zip`], cwd: outDir });
    assert.equal(extract.code, 0, extract.stderr);
    assert.deepEqual(listFiles(join(outDir, stem)), [
      "LICENSE",
      "README.md",
      "SERVICE.md",
      "THIRD-PARTY-NOTICES.txt",
      "install-service.ps1",
      "shawl.exe",
      "uninstall-service.ps1",
      "vaultmesh-relay.exe",
    ]);
    assert.equal(Deno.readTextFileSync(join(outDir, stem, "shawl.exe")), SHAWL_FIXTURE);
    assert.equal(
      Deno.readTextFileSync(join(outDir, stem, "install-service.ps1")),
      Deno.readTextFileSync(join(REPO_ROOT, "packaging/windows/install-service.ps1")),
    );
    const info = await run("zipinfo", { args: [`${stem}.zip`], cwd: outDir });
    const exe = info.stdout.split("\n").find((line) => line.endsWith("/vaultmesh-relay.exe"));
    assert.match(exe ?? "", /^-rwxr-xr-x /);
  },
});

Deno.test("SHA256SUMS written by the package step passes sha256sum -c and catches a changed archive", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  await writeIndex(outDir, VERSION);
  const sums = Deno.readTextFileSync(join(outDir, "SHA256SUMS"));
  assert.deepEqual(
    sums.trim().split("\n").map((line) => line.split("  ")[1]),
    PLATFORMS.map((platform) => archiveFileName(VERSION, platform)),
  );
  const check = await run("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: outDir });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const zipPath = join(outDir, archiveFileName(VERSION, platformNamed("windows-x64")!));
  Deno.writeFileSync(zipPath, new Uint8Array([1]), { append: true });
  const recheck = await run("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: outDir });
  assert.notEqual(recheck.code, 0);
  assert.match(recheck.stdout, /windows-x64\.zip: FAILED/);
});

Deno.test("download page lists every archive with its real size and SHA-256", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  await writeIndex(outDir, VERSION);
  const html = Deno.readTextFileSync(join(outDir, "index.html"));
  const sums = Deno.readTextFileSync(join(outDir, "SHA256SUMS"));
  const archives = archivesIn(outDir, VERSION);
  assert.equal(archives.length, PLATFORMS.length);
  for (const path of archives) {
    const name = path.split("/").pop()!;
    const size = Deno.statSync(path).size;
    const digest = await run("sha256sum", { args: [path] });
    const sha256 = digest.stdout.split(" ")[0]!;
    assert.ok(sums.includes(`${sha256}  ${name}`), `SHA256SUMS lacks ${name}`);
    assert.ok(html.includes(`<a href="${name}">${name}</a>`), `page lacks a link to ${name}`);
    assert.ok(html.includes(`title="${size} bytes"`), `page lacks the size ${size} of ${name}`);
    assert.ok(html.includes(`${size.toLocaleString("en-US")} bytes`));
    assert.ok(html.includes(`<code class="sum">${sha256}</code>`), `page lacks the sum of ${name}`);
  }
  assert.ok(html.includes('<a href="SHA256SUMS">'));
});

Deno.test("checksums text has the two-space sha256sum layout", () => {
  assert.equal(
    checksumsText([{ name: "a.zip", size: 1, sha256: "ab".repeat(32) }]),
    `${"ab".repeat(32)}  a.zip\n`,
  );
});

Deno.test("index-only run of the package script rewrites SHA256SUMS and the page for archives already built", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  const result = await run(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "scripts/package.ts"), "--index-only", "--out", outDir],
  });
  assert.equal(result.code, 0, result.stderr);
  const described = await describeFiles(archivesIn(outDir, VERSION));
  assert.equal(Deno.readTextFileSync(join(outDir, "SHA256SUMS")), checksumsText(described));
  assert.ok(Deno.statSync(join(outDir, "index.html")).size > 0);
});

Deno.test("deno compile gets exactly the start task's permissions and V8 flags, the config, the target, the output and the bundle", () => {
  const args = compileArgs({
    target: "x86_64-unknown-linux-gnu",
    output: "/tmp/out/vaultmesh-relay",
    entry: "/tmp/build/bundle/main.js",
  });
  const permissions = args.filter((arg) => arg.startsWith("--allow-"));
  assert.deepEqual(permissions, startTaskPermissions());
  assert.ok(permissions.length > 0);
  assert.ok(!args.includes("-A") && !args.includes("--allow-all"));
  const v8Flags = args.filter((arg) => arg.startsWith("--v8-flags"));
  assert.deepEqual(v8Flags, startTaskV8Flags());
  assert.equal(v8Flags.length, 1);
  assert.deepEqual(args.slice(args.indexOf("--target"), args.indexOf("--target") + 2), [
    "--target",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.equal(args[args.indexOf("--output") + 1], "/tmp/out/vaultmesh-relay");
  assert.equal(args[args.indexOf("--config") + 1], join(REPO_ROOT, "deno.json"));
  assert.equal(args[0], "compile");
  assert.equal(args.at(-1), "/tmp/build/bundle/main.js");
  assert.ok(!args.some((arg) => arg.endsWith("main.ts")), "main.ts is bundled, not compiled");
});

/** Every file under `dir` (a path inside the repository) whose name ends with one of `endings`. */
function filesUnder(dir: string, endings: readonly string[]): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(join(REPO_ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...filesUnder(path, endings));
    else if (endings.some((ending) => entry.name.endsWith(ending))) found.push(path);
  }
  return found;
}

Deno.test("the V8 flags are written once, in the start task: no script, module, unit or workflow repeats them", () => {
  const flags = startTaskV8Flags();
  assert.equal(flags.length, 1, manifest.tasks.start);
  const value = flags[0]!.slice("--v8-flags=".length);
  assert.match(value, /^--\S+$/);
  const files = [
    ...filesUnder("scripts", [".ts"]),
    ...filesUnder("lib", [".ts"]),
    ...filesUnder("packaging", [".service", ".ps1", ".env", ".md"]),
    ".github/workflows/release.yml",
    "main.ts",
  ];
  const repeating = files.filter((file) =>
    Deno.readTextFileSync(join(REPO_ROOT, file)).includes(value)
  );
  assert.deepEqual(repeating, []);
});

function stderrLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "" && !/^(Task|Download) /.test(line));
}

const REAL_DENO_DIR = await denoDir(Deno.execPath());

/**
 * Runs the package script with a Deno cache that holds no denort (only the real cache's npm
 * packages, linked, so compiling needs no downloads), no DENORT_BIN and no SHAWL_EXE.
 */
async function packageWithoutDenort(dir: string, args: string[], extraEnv = {}) {
  Deno.mkdirSync(join(dir, "deno-dir"), { recursive: true });
  try {
    Deno.symlinkSync(join(REAL_DENO_DIR, "npm"), join(dir, "deno-dir", "npm"));
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  delete env.SHAWL_EXE;
  return await run(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "scripts/package.ts"), "--out", join(dir, "dist"), ...args],
    env: { ...env, DENO_DIR: join(dir, "deno-dir"), NO_COLOR: "1", ...extraEnv },
    clearEnv: true,
  });
}

Deno.test("package script with no input at hand names each missing input once with where to get it, skips every platform and exits 1", async () => {
  using dir = tempDir();
  const result = await packageWithoutDenort(dir.path, ["--offline"], { LIPO: "" });
  assert.equal(result.code, 1, result.stderr);
  const text = result.stderr;
  const cache = join(dir.path, "deno-dir", "dl", "release", `v${Deno.version.deno}`);
  for (const platform of PLATFORMS) {
    assert.match(text, new RegExp(`^package: ${platform.name} +skipped: no denort for `, "m"));
  }
  assert.match(text, /^package: windows-x64 +skipped: .*; no shawl\.exe$/m);
  const allTargets = PLATFORMS.flatMap((p) => p.targets).join(", ");
  assert.ok(
    text.includes(
      `denort ${Deno.version.deno} for ${allTargets}: not in Deno's cache and --offline was given`,
    ),
    text,
  );
  assert.ok(text.includes(`and put it at ${join(cache, "denort-<target>.zip")},`), text);
  assert.ok(text.includes("set DENORT_BIN=/path/to/denort"));
  assert.ok(text.includes(`shawl.exe: no --shawl PATH given and SHAWL_EXE is not set`));
  assert.ok(text.includes(`download ${SHAWL.url}`) && text.includes(SHAWL.sha256));
  assert.equal(text.split("get https://dl.deno.land/").length, 2, "the denort remedy is said once");
  assert.match(stderrLines(text).at(-1)!, /^package: built nothing: /);
  assert.deepEqual([...Deno.readDirSync(join(dir.path, "dist"))], []);
});

Deno.test("package script says shawl.exe must be a Windows executable when --shawl names another file", async () => {
  using dir = tempDir();
  const notShawl = join(dir.path, "shawl.exe");
  Deno.writeTextFileSync(notShawl, "test fixture: not a Windows executable\n");
  const result = await packageWithoutDenort(dir.path, [
    "--offline",
    "--platform",
    "windows-x64",
    "--shawl",
    notShawl,
  ]);
  assert.equal(result.code, 1);
  assert.ok(
    result.stderr.includes(
      `shawl.exe: ${JSON.stringify(notShawl)} is not an x86-64 Windows executable`,
    ),
    result.stderr,
  );
});

Deno.test("package script --help lists the options and every input with where to get it, exit 0", async () => {
  using dir = tempDir();
  const result = await packageWithoutDenort(dir.path, ["--help"]);
  assert.equal(result.code, 0, result.stderr);
  for (const text of ["--platform", "--out", "--shawl", "--offline", "--index-only", "--help"]) {
    assert.ok(result.stdout.includes(text), `help lacks ${text}`);
  }
  for (const target of PLATFORMS.flatMap((p) => p.targets)) {
    assert.ok(result.stdout.includes(target));
  }
  assert.ok(result.stdout.includes("DENORT_BIN") && result.stdout.includes("dl/release/v"));
  assert.ok(result.stdout.includes(SHAWL.url) && result.stdout.includes("LIPO"));
  assert.deepEqual(stderrLines(result.stderr), []);
});

Deno.test("package script answers a bad flag or platform with one line and exit status 2", async () => {
  using dir = tempDir();
  for (const args of [["--bogus"], ["--platform", "linux-riscv"]]) {
    const result = await packageWithoutDenort(dir.path, args);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(stderrLines(result.stderr).length, 1, result.stderr);
  }
  assert.equal(parseOptions(["-h"], {}), undefined);
  assert.deepEqual(
    parseOptions(["--platform", "linux-arm64", "--platform", "linux-arm64"], {})?.platforms
      .map((p) => p.name),
    ["linux-arm64"],
  );
});

Deno.test("package script reports a failing deno compile in one line (corrupt cached denort test fixture)", async () => {
  using dir = tempDir();
  const cache = denortCachePath(
    join(dir.path, "deno-dir"),
    Deno.version.deno,
    "x86_64-unknown-linux-gnu",
  );
  Deno.mkdirSync(join(cache, ".."), { recursive: true });
  Deno.writeTextFileSync(cache, "test fixture: not a zip, so deno compile must fail\n");
  const result = await packageWithoutDenort(dir.path, ["--platform", "linux-x64", "--offline"]);
  assert.equal(result.code, 1);
  const lines = stderrLines(result.stderr);
  assert.ok(lines.some((l) => /^package: linux-x64 +ready \(denort from cache\)$/.test(l)));
  const failure = lines.filter((line) => line.includes("failed"));
  assert.equal(failure.length, 2, result.stderr);
  assert.match(
    failure[0]!,
    /^package: linux-x64 failed: deno compile for x86_64-unknown-linux-gnu failed: /,
  );
  assert.equal(failure[1], "package: built 0 of 1 platforms; failed linux-x64");
  assert.ok(
    !Deno.readDirSync(join(dir.path, "dist")).some((entry) => entry.name.endsWith(".tar.gz")),
  );
});

Deno.test({
  name:
    "package script uses DENORT_BIN only for its own target and refuses a binary that does not run the relay (the full deno as DENORT_BIN)",
  ignore: Deno.build.target !== "x86_64-unknown-linux-gnu",
  fn: async () => {
    using dir = tempDir();
    const result = await packageWithoutDenort(dir.path, ["--offline"], {
      DENORT_BIN: Deno.execPath(),
      SHAWL_EXE: "",
    });
    assert.equal(result.code, 1, result.stderr);
    const text = result.stderr;
    assert.match(text, /^package: linux-x64 +ready \(denort from DENORT_BIN\)$/m);
    assert.match(text, /^package: linux-arm64 +skipped: no denort for aarch64-unknown-linux-gnu$/m);
    assert.ok(
      text.includes(
        "DENORT_BIN is a runtime for x86_64-unknown-linux-gnu; not in Deno's cache and --offline was given",
      ),
      text,
    );
    assert.match(
      text,
      /^package: linux-x64 failed: The compiled x86_64-unknown-linux-gnu binary does not run the relay: --version printed "deno 2\.9\.\d+/m,
    );
    assert.match(
      text,
      /built 0 of 4 platforms; skipped linux-arm64, macos-universal, windows-x64 \(missing inputs above\); failed linux-x64$/m,
    );
    assert.deepEqual([...Deno.readDirSync(join(dir.path, "dist"))], []);
  },
});

/**
 * The JSON value that starts at `start` in `bytes` (an object or array, as deno compile writes its
 * metadata and its virtual file system listing into the binary).
 */
function jsonAt(bytes: Uint8Array, start: number): unknown {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) depth++;
    else if ((byte === 0x7d || byte === 0x5d) && --depth === 0) {
      return JSON.parse(new TextDecoder().decode(bytes.subarray(start, i + 1)));
    }
  }
  throw new Error(`no complete JSON value at ${start}`);
}

/** Every file of a deno compile virtual file system listing, as paths. */
function vfsFiles(entries: unknown, prefix = ""): string[] {
  const files: string[] = [];
  for (const entry of entries as Record<string, { n: string; e?: unknown }>[]) {
    if (entry.Dir) files.push(...vfsFiles(entry.Dir.e, `${prefix}/${entry.Dir.n}`));
    else files.push(...Object.values(entry).map((file) => `${prefix}/${file.n}`));
  }
  return files;
}

Deno.test("deno compile embeds the bundle's files (no npm folder), the start task's V8 flags and deno.json's unstable features (the full deno stands in for denort; that file is inspected, never run or shipped)", async () => {
  using dir = tempDir();
  const bundle = await bundleRelay(join(dir.path, "bundle"));
  assert.ok(bundle.files.length > 1, `the bundle is code split: ${bundle.files.join(", ")}`);
  const output = join(dir.path, "compiled-on-full-deno-not-a-relay");
  const env = Deno.env.toObject();
  const result = await run(Deno.execPath(), {
    args: compileArgs({ target: Deno.build.target, output, entry: bundle.entry }),
    env: { ...env, DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
    clearEnv: true,
  });
  assert.equal(result.code, 0, result.stderr);
  const bytes = Deno.readFileSync(output);
  const find = (text: string, from = 0) => {
    const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(text, from);
    assert.ok(at >= 0, `deno compile wrote no ${text}`);
    return at;
  };
  const metadataAt = find('{"argv":');
  const metadata = jsonAt(bytes, metadataAt) as {
    v8_flags: string[];
    entrypoint_key: string;
    node_modules: unknown;
    unstable_config: { features: string[] };
    permissions: Record<string, unknown>;
  };
  const flags = startTaskV8Flags().flatMap((flag) => flag.slice("--v8-flags=".length).split(","));
  assert.ok(flags.length > 0);
  assert.deepEqual(metadata.v8_flags.slice(-flags.length), flags);
  assert.deepEqual(metadata.unstable_config.features, manifest.unstable);
  assert.equal(metadata.node_modules, null, "no npm packages are embedded");
  assert.ok(bundle.entry.endsWith(metadata.entrypoint_key), metadata.entrypoint_key);
  // The start task's permissions, unscoped ([]); the others not granted (null).
  const granted = startTaskPermissions().map((flag) => flag.slice(2).replace("-", "_"));
  for (const name of ["env", "net", "read", "write", "sys", "run", "ffi"]) {
    const expected = granted.includes(`allow_${name}`) ? [] : null;
    assert.deepEqual(metadata.permissions[`allow_${name}`], expected, `allow_${name}`);
  }
  // deno compile stores paths below the files' common folder, so compare them below it.
  const embedded = vfsFiles(jsonAt(bytes, find('[{"Dir":', metadataAt)));
  const folders = new Set(embedded.map((path) => dirname(path)));
  assert.equal(folders.size, 1, `one folder: ${[...folders].join(", ")}`);
  assert.deepEqual(embedded.map((path) => basename(path)).sort(), [...bundle.files].sort());
});

Deno.test("the target of a runtime is read from its ELF, Mach-O or PE header", () => {
  const running = executableTarget(Deno.readFileSync(Deno.execPath()).subarray(0, 4096));
  assert.equal(running, Deno.build.target);
  const machO = new Uint8Array(32);
  new DataView(machO.buffer).setUint32(0, 0xfeedfacf, true);
  new DataView(machO.buffer).setUint32(4, 0x0100000c, true);
  assert.equal(executableTarget(machO), "aarch64-apple-darwin");
  const pe = new Uint8Array(256);
  const view = new DataView(pe.buffer);
  view.setUint16(0, 0x4d5a);
  view.setUint32(0x3c, 0x80, true);
  view.setUint32(0x80, 0x50450000);
  view.setUint16(0x84, 0x8664, true);
  assert.equal(executableTarget(pe), "x86_64-pc-windows-msvc");
  assert.equal(executableTarget(new TextEncoder().encode("#!/bin/sh\n")), undefined);
});

Deno.test("the release workflow packages every platform and runs the linux-arm64 relay on an arm64 runner", () => {
  const workflow = Deno.readTextFileSync(join(REPO_ROOT, ".github/workflows/release.yml"));
  for (const platform of PLATFORMS) {
    assert.ok(
      workflow.includes(`--platform ${platform.name}`),
      `release.yml never packages ${platform.name}`,
    );
  }
  assert.match(
    workflow,
    /linux-arm64-check:\n\s+needs: linux-windows\n\s+runs-on: ubuntu-24\.04-arm/,
  );
  assert.match(workflow, /needs: \[[^\]]*linux-arm64-check[^\]]*\]/);
  assert.ok(workflow.includes(`test "$(wc -l < SHA256SUMS)" -eq ${PLATFORMS.length}`));
});

Deno.test("the release workflow downloads the shawl version and checksum the package script names", () => {
  const workflow = Deno.readTextFileSync(join(REPO_ROOT, ".github/workflows/release.yml"));
  assert.ok(workflow.includes(`SHAWL_VERSION: "${SHAWL.version}"`));
  assert.ok(workflow.includes(`SHAWL_SHA256: ${SHAWL.sha256}`));
});

const hostTarget = "x86_64-unknown-linux-gnu";
const hostCache = Deno.build.os === "linux" && Deno.build.arch === "x86_64"
  ? denortCachePath(await denoDir(Deno.execPath()), Deno.version.deno, hostTarget)
  : undefined;
const denortBin = Deno.env.get("DENORT_BIN");
const denortAvailable = hostCache !== undefined &&
  (denortBin !== undefined || (() => {
    try {
      return Deno.statSync(hostCache).isFile;
    } catch {
      return false;
    }
  })());
const compileSkipReason = hostCache === undefined
  ? "host is not x86_64 Linux"
  : `no denort: set DENORT_BIN or put ${hostCache} in place`;

Deno.test({
  name: denortAvailable
    ? "deno task package builds a linux archive whose compiled relay prints its version"
    : `deno task package builds a linux archive whose compiled relay prints its version (skipped: ${compileSkipReason})`,
  ignore: !denortAvailable,
  fn: async () => {
    using dir = tempDir();
    const outDir = join(dir.path, "dist");
    const result = await run(Deno.execPath(), {
      args: ["task", "package", "--platform", "linux-x64", "--offline", "--out", outDir],
      cwd: REPO_ROOT,
    });
    assert.equal(result.code, 0, result.stderr);
    const stem = `vaultmesh-relay-v${VERSION}-linux-x64`;
    const extract = await run("tar", { args: ["-xzf", `${stem}.tar.gz`], cwd: outDir });
    assert.equal(extract.code, 0, extract.stderr);
    const version = await run(join(outDir, stem, "vaultmesh-relay"), { args: ["--version"] });
    assert.equal(version.stdout.trim(), `vaultmesh-relay ${VERSION}`);
    const check = await run("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: outDir });
    assert.equal(check.code, 0, check.stdout);
  },
});

if (!denortAvailable) {
  console.log(`package_test: the compile test is skipped: ${compileSkipReason}`);
}

Deno.test("a crashed deno compile is summed up as its crash line", () => {
  const stderr = "Check main.ts\nCompile main.ts to x\n\nthread 'tokio-runtime-worker' (1) has " +
    "overflowed its stack\nfatal runtime error: stack overflow, aborting\nAborted\n";
  assert.equal(
    compileFailure(stderr),
    "thread 'tokio-runtime-worker' (1) has overflowed its stack",
  );
});

Deno.test("a failed deno compile is summed up as its error and its innermost cause", () => {
  const stderr = [
    "Compile main.ts to dist/vaultmesh-relay",
    "error: Writing deno compile executable to temporary file 'dist/x.tmp'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort.zip)",
    "    2: failed to lookup address information: Name or service not known",
    "",
    "Stack backtrace:",
    "   0: <unknown>",
  ].join("\n");
  assert.equal(
    compileFailure(stderr),
    "Writing deno compile executable to temporary file 'dist/x.tmp' " +
      "(failed to lookup address information: Name or service not known)",
  );
});

/** The local import graph of `entry` as `deno info --json` reports it (static and dynamic). */
async function localImports(entry: string): Promise<Map<string, string[]>> {
  const info = await run(Deno.execPath(), { args: ["info", "--json", entry], cwd: REPO_ROOT });
  assert.equal(info.code, 0, info.stderr);
  const graph = new Map<string, string[]>();
  const modules = JSON.parse(info.stdout).modules as {
    specifier: string;
    dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
  }[];
  for (const module of modules.filter((m) => m.specifier.startsWith("file:"))) {
    graph.set(
      module.specifier,
      (module.dependencies ?? []).map((d) => d.code?.specifier ?? d.type?.specifier ?? "")
        .filter((specifier) => specifier.startsWith("file:") && specifier.endsWith(".ts")),
    );
  }
  return graph;
}

Deno.test("no module of scripts/ imports, directly or not, a module that imports it back", async () => {
  const cycles: string[] = [];
  for (const entry of ["scripts/package.ts", "scripts/package/bundle.ts"]) {
    const graph = await localImports(entry);
    const done = new Set<string>();
    const visit = (module: string, path: string[]) => {
      if (path.includes(module)) {
        const cycle = path.slice(path.indexOf(module)).concat(module);
        if (cycle.some((m) => m.includes("/scripts/"))) {
          cycles.push(cycle.map((m) => m.slice(m.indexOf("/scripts/") + 1)).join(" -> "));
        }
        return;
      }
      if (done.has(module)) return;
      for (const next of graph.get(module) ?? []) visit(next, [...path, module]);
      done.add(module);
    };
    for (const module of graph.keys()) visit(module, []);
  }
  assert.deepEqual(cycles, []);
});
