/**
 * The bundle proof: `deno compile` cannot finish here (no `denort`), so what every release binary
 * embeds, the `deno bundle` of `main.ts` that `deno task package` compiles
 * (`scripts/package/bundle.ts`), is run on its own. Its files are copied into an empty folder and
 * run with an empty Deno cache, `--cached-only`, no config, no npm and no remote modules, and
 * network permission for loopback only, so nothing can be fetched; with the start task's V8 flags
 * and deno.json's unstable features, which the binary embeds too. It must answer `/health` in
 * both modes and start the libp2p listener. The same files then run on Deno's own linux arm64
 * build (npm `@deno/linux-arm64-glibc`) under qemu user emulation, so the linux-arm64 archive is
 * not shipped untried.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import manifest from "../deno.json" with { type: "json" };
import { FLAG_KEYS } from "../lib/config/mod.ts";
import {
  BUNDLE_ENTRY,
  bundleImports,
  bundleRelay,
  type RelayBundle,
} from "../scripts/package/bundle.ts";
import { freePort, startTaskV8Flags } from "../scripts/relay_process.ts";
import { executableTarget } from "../scripts/package/denort.ts";
import { humanSize } from "../scripts/package/download_page.ts";
import { REPO_ROOT, run, tool } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";

/**
 * What the compiled binary embeds besides permissions: the start task's V8 flags and, since the
 * runs below have no config, deno.json's unstable features as flags.
 */
function binaryRuntimeArgs(): string[] {
  return [...startTaskV8Flags(), ...manifest.unstable.map((feature) => `--unstable-${feature}`)];
}

/** Flags that confine a bundle run: no config, no cache, no downloads, loopback only. */
function sandboxArgs(dir: string): string[] {
  return [
    "run",
    ...binaryRuntimeArgs(),
    "--cached-only",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--no-npm",
    "--allow-net=127.0.0.1",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--allow-env",
    "--allow-sys",
  ];
}

/** An environment with nothing but an empty Deno cache inside `dir`. */
function sandboxEnv(dir: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir,
    DENO_DIR: join(dir, ".deno-dir"),
    NO_COLOR: "1",
  };
}

/** Relay flags for one run: loopback, a database in the folder, libp2p on `p2pPort`. */
function relayArgs(mode: string, p2pPort: number): string[] {
  const args = [
    "--listen",
    "127.0.0.1:0",
    "--db",
    "relay.db",
    "--mode",
    mode,
    "--p2p-port",
    String(p2pPort),
  ];
  // The p2p listener binds all interfaces unless told otherwise (where the flag exists).
  if ((FLAG_KEYS as readonly string[]).includes("p2pListen")) {
    args.push("--p2p-listen", "127.0.0.1");
  }
  return args;
}

/** What a started relay printed and where it answers. */
interface Started {
  readonly url: string;
  readonly multiaddr: string;
  readonly log: string;
}

/**
 * Runs `command` (a relay), waits for its banner to show both the HTTP URL and the libp2p
 * multiaddr, runs `check` on it, then stops it with SIGTERM and expects exit status 0.
 */
async function runRelay(
  command: Deno.Command,
  options: { readonly timeoutMs: number; readonly check: (started: Started) => Promise<void> },
): Promise<string> {
  const child = command.spawn();
  let log = "";
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (log += chunk) }),
  );
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  try {
    let started: Started | undefined;
    while (!started) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
      const url = /listening\s+(http:\/\/\S+)/.exec(log)?.[1];
      const multiaddr = /(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\w+)/.exec(log)?.[1];
      if (url && multiaddr) started = { url, multiaddr, log };
    }
    assert.ok(started, `the relay did not start within ${options.timeoutMs} ms:\n${log}`);
    await options.check(started);
    child.kill("SIGTERM");
    const drain = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        log += value;
      }
    })();
    const status = await child.status;
    await Promise.all([drain, stdout]);
    assert.equal(status.code, 0, `the relay did not stop cleanly:\n${log}`);
    return log;
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }
}

async function expectHealth(url: string, mode: string): Promise<void> {
  const response = await fetch(`${url}/health`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    status: "ok",
    protocol: "vaultmesh-relay-3",
    mode,
    buffering: mode === "stateless" ? "disabled" : "enabled",
  });
}

async function expectP2pListener(multiaddr: string): Promise<void> {
  const port = Number(/\/tcp\/(\d+)\//.exec(multiaddr)![1]);
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  connection.close();
}

/** Files Deno's cache holds that could only come from a download. */
function downloaded(denoDir: string): string[] {
  const found: string[] = [];
  for (const folder of ["npm", "remote", "deps", "gen/https"]) {
    try {
      for (const entry of Deno.readDirSync(join(denoDir, folder))) {
        found.push(`${folder}/${entry.name}`);
      }
    } catch {
      // Not there.
    }
  }
  return found;
}

let bundled: Promise<RelayBundle> | undefined;
let bundleDir: string | undefined;

/** Bundles main.ts once for this file's tests, as `deno task package` does. */
function bundle(): Promise<RelayBundle> {
  bundleDir ??= Deno.makeTempDirSync({ prefix: "vaultmesh-relay-bundle-" });
  bundled ??= (async () => {
    const result = await bundleRelay(join(bundleDir!, "bundle"));
    console.log(
      `bundle: main.ts is ${result.files.length} files, ${humanSize(result.bytes)} ` +
        `(${result.bytes} bytes)`,
    );
    return result;
  })();
  return bundled;
}

globalThis.addEventListener("unload", () => {
  if (bundleDir) Deno.removeSync(bundleDir, { recursive: true });
});

/** Copies the bundle's files, and nothing else, into the empty folder `dir`; returns the entry. */
async function emptyFolderWithBundle(dir: string): Promise<string> {
  const { dir: from, files } = await bundle();
  for (const name of files) await Deno.copyFile(join(from, name), join(dir, name));
  return join(dir, BUNDLE_ENTRY);
}

Deno.test("the relay bundles into JavaScript files that import nothing but node: built-ins and each other, libp2p loaded lazily", async () => {
  const { dir, files } = await bundle();
  assert.ok(files.every((name) => name.endsWith(".js")), files.join(", "));
  const imports = new Map<string, string[]>();
  for (const name of files) {
    imports.set(name, bundleImports(await Deno.readTextFile(join(dir, name))));
  }
  const all = [...new Set([...imports.values()].flat())];
  assert.ok(all.includes("node:sqlite"), `the scan found ${all.join(", ")}`);
  const local = all.filter((specifier) => !specifier.startsWith("node:"));
  assert.deepEqual(
    local.filter((specifier) => !files.includes(specifier.replace(/^\.\//, ""))),
    [],
  );
  // What main.js loads before it runs: its static imports and theirs. libp2p is not among them.
  const staticImports = (name: string): string[] => {
    const source = Deno.readTextFileSync(join(dir, name));
    return bundleImports(source).filter((specifier) =>
      specifier.startsWith("./") && !source.includes(`import("${specifier}")`)
    ).map((specifier) => specifier.slice(2));
  };
  const eager = new Set<string>();
  const visit = (name: string) => {
    if (eager.has(name)) return;
    eager.add(name);
    staticImports(name).forEach(visit);
  };
  visit(BUNDLE_ENTRY);
  const lazy = files.filter((name) => !eager.has(name));
  assert.ok(
    lazy.some((name) => Deno.readTextFileSync(join(dir, name)).includes("/ipfs/id/1.0.0")),
    `no lazily loaded file holds libp2p; eager: ${[...eager].join(", ")}`,
  );
});

Deno.test("the import scan of a bundle finds static, re-exported and dynamic imports, not JSDoc types", () => {
  const source = [
    'import fs from "node:fs";',
    'import { a as b } from "node:buffer";',
    'export { c } from "./x.js";',
    'import "node:process";',
    'const y = await import("npm:y");',
    '/** @param {import("z").T} t */',
  ].join("\n");
  assert.deepEqual(bundleImports(source), [
    "./x.js",
    "node:buffer",
    "node:fs",
    "node:process",
    "npm:y",
  ]);
});

for (const mode of ["store-and-forward", "stateless"]) {
  Deno.test(`the bundle alone in an empty folder, with an empty cache and loopback-only network, answers /health in ${mode} mode and starts the libp2p listener`, async () => {
    using dir = tempDir();
    const script = await emptyFolderWithBundle(dir.path);
    const p2pPort = freePort();
    const command = new Deno.Command(Deno.execPath(), {
      args: [...sandboxArgs(dir.path), script, ...relayArgs(mode, p2pPort)],
      cwd: dir.path,
      env: sandboxEnv(dir.path),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    await runRelay(command, {
      timeoutMs: 30_000,
      check: async ({ url, multiaddr }) => {
        assert.ok(multiaddr.includes(`/tcp/${p2pPort}/p2p/`));
        await expectHealth(url, mode);
        await expectP2pListener(multiaddr);
      },
    });
    // Store-and-forward keeps its libp2p key in its database; stateless mode has none, only the key.
    const state = mode === "stateless" ? "relay.p2p-key" : "relay.db";
    assert.ok(Deno.statSync(join(dir.path, state)).isFile);
    if (mode === "stateless") assert.ok(!existsSync(join(dir.path, "relay.db")));
    assert.deepEqual(
      [...Deno.readDirSync(dir.path)].map((e) => e.name).filter((n) => n.endsWith(".js")).sort(),
      (await bundle()).files,
    );
    assert.ok(!Deno.statSync(dir.path).isSymlink);
    assert.deepEqual(downloaded(join(dir.path, ".deno-dir")), [], "nothing was downloaded");
  });
}

Deno.test("the same confinement stops the unbundled relay: it needs npm packages the empty cache lacks", async () => {
  using dir = tempDir();
  const result = await run(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      join(REPO_ROOT, "main.ts"),
      "--version",
    ],
    env: sandboxEnv(dir.path),
    clearEnv: true,
  });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /not found in cache.*--cached-only/);
  assert.equal(result.stdout, "");
});

// linux arm64: Deno's own arm64 build from npm, run under qemu user emulation.

const QEMU_SYSROOT = "/usr/aarch64-linux-gnu";
const ARM64_PACKAGE = `@deno/linux-arm64-glibc@${Deno.version.deno}`;
const ARM64_CACHE = join(
  Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/tmp", ".cache"),
  "vaultmesh-relay-test",
  `deno-${Deno.version.deno}-linux-arm64`,
);

/** `qemu-aarch64` and an arm64 glibc to run a dynamically linked arm64 program, or why not. */
function findQemu(): { qemu: string } | { skip: string } {
  if (Deno.build.os !== "linux") return { skip: "not a Linux host" };
  if (Deno.build.arch === "aarch64") return { skip: "the host is arm64 itself (no emulation)" };
  const qemu = tool("qemu-aarch64") ?? tool("qemu-aarch64-static");
  if (!qemu) return { skip: "qemu-aarch64 not installed (Debian: qemu-user)" };
  try {
    Deno.statSync(join(QEMU_SYSROOT, "lib/ld-linux-aarch64.so.1"));
  } catch {
    return { skip: `no arm64 glibc in ${QEMU_SYSROOT} (Debian: libc6-arm64-cross)` };
  }
  return { qemu };
}

/**
 * Deno's arm64 build, the same version as the running deno: from the cache, else `npm pack` of
 * `@deno/linux-arm64-glibc` (bounded to two minutes), or why it cannot be had.
 */
async function findArm64Deno(): Promise<{ deno: string } | { skip: string }> {
  const deno = join(ARM64_CACHE, "deno");
  const isArm64 = () => {
    try {
      using file = Deno.openSync(deno);
      const head = new Uint8Array(64);
      file.readSync(head);
      return executableTarget(head) === "aarch64-unknown-linux-gnu";
    } catch {
      return false;
    }
  };
  if (isArm64()) return { deno };
  const npm = tool("npm");
  if (!npm) return { skip: `no npm to fetch ${ARM64_PACKAGE}` };
  const work = Deno.makeTempDirSync({ prefix: "vaultmesh-relay-arm64-" });
  try {
    const signal = AbortSignal.timeout(120_000);
    const pack = await new Deno.Command(npm, {
      args: ["pack", ARM64_PACKAGE, "--pack-destination", work, "--silent"],
      cwd: work,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output().catch((error) => ({ success: false, stderr: String(error) }));
    const tarball = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tgz"))?.name;
    if (!pack.success || !tarball) {
      const why = typeof pack.stderr === "string"
        ? pack.stderr
        : new TextDecoder().decode(pack.stderr);
      return { skip: `npm pack ${ARM64_PACKAGE} failed: ${why.trim().split("\n")[0]}` };
    }
    const untar = await run("tar", { args: ["-xzf", tarball, "package/deno"], cwd: work });
    if (untar.code !== 0) return { skip: `cannot unpack ${tarball}: ${untar.stderr.trim()}` };
    Deno.mkdirSync(ARM64_CACHE, { recursive: true });
    Deno.renameSync(join(work, "package/deno"), deno);
    Deno.chmodSync(deno, 0o755);
    return isArm64() ? { deno } : { skip: `${ARM64_PACKAGE} holds no arm64 deno` };
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}

const qemu = findQemu();
const arm64 = "qemu" in qemu ? await findArm64Deno() : qemu;
const arm64Skip = "skip" in qemu ? qemu.skip : "skip" in arm64 ? arm64.skip : undefined;
if (arm64Skip) console.log(`bundle_test: the arm64 run is skipped: ${arm64Skip}`);

Deno.test({
  name:
    "the bundle answers /health and starts the libp2p listener on Deno's linux arm64 build under qemu" +
    (arm64Skip ? ` (skipped: ${arm64Skip})` : ""),
  ignore: arm64Skip !== undefined,
  fn: async () => {
    const emulator = (qemu as { qemu: string }).qemu;
    const deno = (arm64 as { deno: string }).deno;
    const version = await run(emulator, { args: ["-L", QEMU_SYSROOT, deno, "--version"] });
    assert.match(
      version.stdout,
      new RegExp(`^deno ${Deno.version.deno} .*aarch64-unknown-linux-gnu`),
    );
    using dir = tempDir();
    const script = await emptyFolderWithBundle(dir.path);
    const p2pPort = freePort();
    const started = Date.now();
    const command = new Deno.Command(emulator, {
      args: [
        "-L",
        QEMU_SYSROOT,
        deno,
        ...sandboxArgs(dir.path),
        script,
        ...relayArgs("store-and-forward", p2pPort),
      ],
      cwd: dir.path,
      env: sandboxEnv(dir.path),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    await runRelay(command, {
      timeoutMs: 150_000,
      check: async ({ url, multiaddr }) => {
        console.log(`arm64 under qemu: relay answered after ${Date.now() - started} ms`);
        await expectHealth(url, "store-and-forward");
        await expectP2pListener(multiaddr);
      },
    });
    assert.deepEqual(downloaded(join(dir.path, ".deno-dir")), [], "nothing was downloaded");
  },
});
