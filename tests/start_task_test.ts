/**
 * The first `deno task start` on a fresh machine downloads the relay's npm packages. Two Deno
 * processes print "Download https://registry.npmjs.org/…" lines for that: the task runner, which
 * fetches the lockfile's packages before it runs any task (quieted only by `deno task --quiet`),
 * and the task's `deno run` (quieted by the `--quiet` in the start task). Errors, Deno's and the
 * relay's, still reach stderr.
 *
 * A fresh cache is simulated with a Deno cache that links every npm package of the real cache
 * except `@logtape/logtape`, which must then be downloaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import manifest from "../deno.json" with { type: "json" };
import { denoDir } from "../scripts/package/denort.ts";
import { REPO_ROOT, run } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";
import { freePort } from "../scripts/relay_process.ts";

const REGISTRY = "registry.npmjs.org";
const MISSING = "@logtape";

/**
 * A Deno cache in `dir` holding the real cache's npm packages except `@logtape/*` (hard links
 * where possible, so it is quick; Deno refuses packages reached through symlinks).
 */
async function cacheLacking(dir: string): Promise<string> {
  const real = join(await denoDir(Deno.execPath()), "npm", REGISTRY);
  const cache = join(dir, "deno-dir");
  Deno.mkdirSync(join(cache, "npm", REGISTRY), { recursive: true });
  const names = [...Deno.readDirSync(real)].map((e) => e.name).filter((n) => n !== MISSING);
  const sources = names.map((name) => join(real, name));
  let copy = await run("cp", { args: ["-al", ...sources, join(cache, "npm", REGISTRY)] });
  if (copy.code !== 0) {
    // Another file system (a tmpfs /tmp): copy instead.
    copy = await run("cp", { args: ["-a", ...sources, join(cache, "npm", REGISTRY)] });
  }
  assert.equal(copy.code, 0, copy.stderr);
  return cache;
}

function environment(cache: string, extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("VAULTMESH_RELAY_")),
  );
  return { ...env, DENO_DIR: cache, ...extra };
}

function downloadLines(stderr: string): string[] {
  // deno-lint-ignore no-control-regex
  return stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").filter((l) => /Download\s/.test(l));
}

Deno.test("the start task runs deno with --quiet", () => {
  assert.match(manifest.tasks.start, /^deno run --quiet /);
});

/** The start task's command line, with `deno` replaced by the running deno. */
function startTask(args: readonly string[], options: { quiet: boolean }): string[] {
  const words = manifest.tasks.start.split(/\s+/).slice(1);
  return [...words.filter((word) => options.quiet || word !== "--quiet"), ...args];
}

Deno.test("the start task's deno run fetches what the cache lacks without Download lines (without --quiet it prints them)", async () => {
  using dir = tempDir();
  const loud = await run(Deno.execPath(), {
    args: startTask(["--version"], { quiet: false }),
    env: environment(await cacheLacking(join(dir.path, "loud"))),
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.equal(loud.code, 0, loud.stderr);
  assert.ok(
    downloadLines(loud.stderr).some((line) => line.includes(`${REGISTRY}/${MISSING}`)),
    `the control run downloaded nothing:\n${loud.stderr}`,
  );
  const quiet = await run(Deno.execPath(), {
    args: startTask(["--version"], { quiet: true }),
    env: environment(await cacheLacking(join(dir.path, "quiet"))),
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout.trim(), `vaultmesh-relay ${manifest.version}`);
  assert.equal(quiet.stderr, "");
  const cached = join(dir.path, "quiet", "deno-dir", "npm", REGISTRY, MISSING);
  assert.ok(Deno.statSync(cached).isDirectory, "the quiet run did download the package");
});

Deno.test("deno task --quiet start prints only the relay's own output on a first run; plain deno task start still shows the task runner's downloads", async () => {
  using dir = tempDir();
  const quiet = await run(Deno.execPath(), {
    args: ["task", "--quiet", "start", "--version"],
    env: environment(await cacheLacking(join(dir.path, "quiet"))),
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout.trim(), `vaultmesh-relay ${manifest.version}`);
  assert.equal(quiet.stderr, "");
  // What the README's plain `deno task start` shows: the runner's own download lines.
  const plain = await run(Deno.execPath(), {
    args: ["task", "start", "--version"],
    env: environment(await cacheLacking(join(dir.path, "plain")), { NO_COLOR: "1" }),
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.equal(plain.code, 0, plain.stderr);
  const lines = plain.stderr.trim().split("\n");
  assert.match(lines[0]!, new RegExp(`^Download https://${REGISTRY}/${MISSING}/\\S+\\.tgz$`));
  assert.match(lines.at(-1)!, /^Task start deno run --quiet /);
  assert.equal(lines.length, 2, plain.stderr);
});

Deno.test("deno task --quiet start still prints Deno's error when a package cannot be downloaded", async () => {
  using dir = tempDir();
  const registry = `http://127.0.0.1:${freePort()}/`;
  const result = await run(Deno.execPath(), {
    args: ["task", "--quiet", "start", "--version"],
    env: environment(join(dir.path, "empty-deno-dir"), {
      NO_COLOR: "1",
      NPM_CONFIG_REGISTRY: registry,
    }),
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /^error: /m, result.stderr);
  assert.ok(result.stderr.includes(`127.0.0.1:${new URL(registry).port}`), result.stderr);
  assert.equal(result.stdout, "");
});

Deno.test("deno task --quiet start still prints the relay's own error for a bad flag", async () => {
  const result = await run(Deno.execPath(), {
    args: ["task", "--quiet", "start", "--ttl-hours", "abc"],
    env: { ...environment(await denoDir(Deno.execPath())), NO_COLOR: "1" },
    clearEnv: true,
    cwd: REPO_ROOT,
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /vaultmesh-relay: Cannot parse --ttl-hours "abc"/);
});
