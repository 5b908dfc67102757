import assert from "node:assert/strict";
import { join } from "node:path";
import manifest from "../deno.json" with { type: "json" };
import { archivesIn, compileArgs, compileFailure, writeIndex } from "../scripts/package.ts";
import { checksumsText, describeFiles } from "../scripts/package/checksums.ts";
import { layOutArchive } from "../scripts/package/layout.ts";
import { archiveFileName, platformNamed, PLATFORMS } from "../scripts/package/platforms.ts";
import { denoDir, denortCachePath } from "../scripts/package/denort.ts";
import { startTaskPermissions } from "../scripts/relay_process.ts";
import { REPO_ROOT, run, tool, writeFixtureBinary } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";

const VERSION = manifest.version;
const SHAWL_FIXTURE = "test fixture standing in for shawl.exe\n";

/** Lays out all three archives around test fixtures in `dir/dist`. */
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
    "vaultmesh-relay-v1.2.3-macos-universal.tar.gz",
    "vaultmesh-relay-v1.2.3-windows-x64.zip",
  ]);
});

Deno.test("linux archive extracts with tar to its own folder with an executable binary, README, LICENSE and the systemd unit", async () => {
  using dir = tempDir();
  const outDir = await layOutAll(dir.path);
  const stem = `vaultmesh-relay-v${VERSION}-linux-x64`;
  const extract = await run("tar", { args: ["-xzf", `${stem}.tar.gz`], cwd: outDir });
  assert.equal(extract.code, 0, extract.stderr);
  assert.deepEqual(listFiles(join(outDir, stem)), [
    "LICENSE",
    "README.md",
    "systemd/README.md",
    "systemd/vaultmesh-relay.service",
    "vaultmesh-relay",
  ]);
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
  assert.equal(archives.length, 3);
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

Deno.test("deno compile gets exactly the start task's permissions, the config, the target and the output", () => {
  const args = compileArgs("x86_64-unknown-linux-gnu", "/tmp/out/vaultmesh-relay");
  const permissions = args.filter((arg) => arg.startsWith("--allow-"));
  assert.deepEqual(permissions, startTaskPermissions());
  assert.ok(permissions.length > 0);
  assert.ok(!args.includes("-A") && !args.includes("--allow-all"));
  assert.deepEqual(args.slice(args.indexOf("--target"), args.indexOf("--target") + 2), [
    "--target",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.equal(args[args.indexOf("--output") + 1], "/tmp/out/vaultmesh-relay");
  assert.equal(args[args.indexOf("--config") + 1], join(REPO_ROOT, "deno.json"));
  assert.equal(args[0], "compile");
  assert.equal(args.at(-1), join(REPO_ROOT, "main.ts"));
});

function stderrLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "" && !/^(Task|Download) /.test(line));
}

/** Runs the package script with an empty Deno cache and no DENORT_BIN. */
async function packageWithoutDenort(dir: string, args: string[]) {
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  delete env.SHAWL_EXE;
  return await run(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "scripts/package.ts"), "--out", join(dir, "dist"), ...args],
    env: { ...env, DENO_DIR: join(dir, "deno-dir"), NO_COLOR: "1" },
    clearEnv: true,
  });
}

Deno.test("package script without any denort stops with one line naming the target, DENORT_BIN and the cache file", async () => {
  using dir = tempDir();
  const result = await packageWithoutDenort(dir.path, ["--platform", "linux-x64", "--offline"]);
  assert.equal(result.code, 1);
  const lines = stderrLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  const cache = denortCachePath(
    join(dir.path, "deno-dir"),
    Deno.version.deno,
    "x86_64-unknown-linux-gnu",
  );
  assert.equal(
    lines[0],
    `package: Cannot compile for x86_64-unknown-linux-gnu: no denort ${Deno.version.deno} runtime ` +
      `(--offline was given); set DENORT_BIN=/path/to/denort or put ${cache} in place`,
  );
  assert.deepEqual([...Deno.readDirSync(join(dir.path, "dist"))], []);
});

Deno.test("package script refuses to build Windows without shawl.exe in one line", async () => {
  using dir = tempDir();
  const result = await packageWithoutDenort(dir.path, ["--offline"]);
  assert.equal(result.code, 1);
  const lines = stderrLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  assert.match(
    lines[0]!,
    /^package: Cannot package windows-x64: no shawl\.exe given; pass --shawl PATH/,
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
  const failure = stderrLines(result.stderr).filter((line) =>
    !line.startsWith("package: compiling")
  );
  assert.equal(failure.length, 1, result.stderr);
  assert.match(failure[0]!, /^package: deno compile for x86_64-unknown-linux-gnu failed: /);
  assert.ok(
    !Deno.readDirSync(join(dir.path, "dist")).some((entry) => entry.name.endsWith(".tar.gz")),
  );
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
