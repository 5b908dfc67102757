import assert from "node:assert/strict";
import { join } from "node:path";
import { type Config, envName, FLAG_KEYS, parseCommand } from "../lib/config/mod.ts";
import {
  SYSTEMD_ENV_EXAMPLE,
  SYSTEMD_ENV_PATH,
  systemdEnvExample,
  UNIT_ENVIRONMENT,
} from "../scripts/package/systemd_env.ts";
import { startTaskPermissions } from "../scripts/relay_process.ts";
import { REPO_ROOT, run, tool } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";

const UNIT = join(REPO_ROOT, "packaging/systemd/vaultmesh-relay.service");
const analyze = tool("systemd-analyze");
const unitText = Deno.readTextFileSync(UNIT);
const exampleText = Deno.readTextFileSync(join(REPO_ROOT, SYSTEMD_ENV_EXAMPLE));

/** `Key=value` lines of the unit (comments skipped). */
function settings(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unitText.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) map.set(match[1]!, [...map.get(match[1]!) ?? [], match[2]!]);
  }
  return map;
}

/** `NAME=value` assignments of an environment file or of `Environment=` values, in order. */
function assignments(lines: readonly string[]): [string, string][] {
  return lines
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith(";"))
    .map((line) => {
      const at = line.indexOf("=");
      assert.ok(at > 0, `not an assignment: ${line}`);
      return [line.slice(0, at), line.slice(at + 1)];
    });
}

/**
 * The environment systemd gives the service: `Environment=` first, then the `EnvironmentFile=`,
 * whose values override (systemd.exec: "Settings from these files override settings made with
 * Environment=").
 */
function serviceEnvironment(envFile: string): Record<string, string> {
  return Object.fromEntries([
    ...assignments(settings().get("Environment") ?? []),
    ...assignments(envFile.split("\n")),
  ]);
}

/** The example file with every setting uncommented. */
function uncommented(text: string): string {
  return text.replace(/^#(VAULTMESH_RELAY_[A-Z0-9_]+=)/gm, "$1");
}

/** The test's own environment (Deno's cache, certificates) without any VAULTMESH_RELAY_* setting. */
function withoutRelaySettings(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith("VAULTMESH_RELAY_")),
  );
}

function runConfig(env: Record<string, string>): Config {
  const command = parseCommand([], env);
  assert.equal(command.kind, "run");
  return command.config;
}

Deno.test("systemd unit runs /usr/local/bin/vaultmesh-relay without flags, as vaultmesh-relay, with the database in its state directory", () => {
  const unit = settings();
  assert.deepEqual(unit.get("ExecStart"), ["/usr/local/bin/vaultmesh-relay"]);
  assert.deepEqual(unit.get("User"), ["vaultmesh-relay"]);
  assert.deepEqual(unit.get("DynamicUser"), ["yes"]);
  assert.deepEqual(unit.get("StateDirectory"), ["vaultmesh-relay"]);
  assert.equal(
    serviceEnvironment("").VAULTMESH_RELAY_DB,
    "/var/lib/vaultmesh-relay/relay.db",
  );
  assert.deepEqual(unit.get("Restart"), ["on-failure"]);
  assert.deepEqual(unit.get("KillSignal"), ["SIGTERM"]);
  assert.ok(unit.has("TimeoutStopSec"));
});

Deno.test("systemd unit reads its settings from an optional environment file and sets only relay variables itself", () => {
  const unit = settings();
  assert.deepEqual(unit.get("EnvironmentFile"), [`-${SYSTEMD_ENV_PATH}`]);
  const known = new Set([...FLAG_KEYS.map(envName), "NO_COLOR"]);
  const own = assignments(unit.get("Environment") ?? []);
  for (const [name] of own) assert.ok(known.has(name), `unknown variable ${name} in the unit`);
  assert.deepEqual(
    Object.fromEntries(own.filter(([name]) => name !== "NO_COLOR")),
    Object.fromEntries(
      Object.entries(UNIT_ENVIRONMENT).map(([key, value]) => [envName(key as never), value]),
    ),
  );
});

Deno.test("systemd unit leaves MemoryDenyWriteExecute off because V8 needs writable executable memory", () => {
  assert.deepEqual(settings().get("MemoryDenyWriteExecute"), ["no"]);
});

Deno.test("the example settings file is generated from lib/config/ and lists every setting once, commented out", () => {
  assert.equal(
    exampleText,
    systemdEnvExample(),
    `${SYSTEMD_ENV_EXAMPLE} is out of date: run deno run -R -W scripts/package/systemd_env.ts`,
  );
  for (const key of FLAG_KEYS) {
    const lines = exampleText.split("\n").filter((line) => line.startsWith(`#${envName(key)}=`));
    assert.equal(lines.length, 1, `${envName(key)} is listed ${lines.length} times`);
  }
  assert.deepEqual(assignments(exampleText.split("\n")), [], "nothing is set until uncommented");
});

Deno.test("uncommenting every line of the example settings file changes nothing: each shows the value the service uses", () => {
  const defaults = runConfig(serviceEnvironment(""));
  const all = runConfig(serviceEnvironment(uncommented(exampleText)));
  assert.deepEqual(all, defaults);
  assert.equal(defaults.db, "/var/lib/vaultmesh-relay/relay.db");
  assert.deepEqual(defaults.listen, { hostname: "127.0.0.1", port: 3030 });
});

Deno.test("a relay started as the unit starts it takes the database path and listen address from the environment file", async () => {
  using dir = tempDir();
  const db = join(dir.path, "moved", "custom.db");
  Deno.mkdirSync(join(dir.path, "moved"));
  const envFile = exampleText +
    `VAULTMESH_RELAY_DB=${db}\nVAULTMESH_RELAY_LISTEN=127.0.0.1:0\nVAULTMESH_RELAY_P2P_PORT=0\n`;
  const environment = serviceEnvironment(envFile);
  assert.equal(environment.VAULTMESH_RELAY_DB, db, "the file overrides the unit's Environment=");
  const execStart = settings().get("ExecStart")![0]!.split(" ");
  const child = new Deno.Command(Deno.execPath(), {
    // The unit's command line with the source relay standing in for the binary: no flags.
    args: ["run", ...startTaskPermissions(), join(REPO_ROOT, "main.ts"), ...execStart.slice(1)],
    env: { ...withoutRelaySettings(Deno.env.toObject()), ...environment },
    clearEnv: true,
    cwd: dir.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    // Until the banner's database line: its lines may arrive in separate reads.
    while (!(url && log.includes(db)) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
      url = /listening\s+(http:\/\/\S+)/.exec(log)?.[1];
    }
    reader.releaseLock();
    assert.ok(url, `the relay did not start:\n${log}`);
    const health = await fetch(`${url}/health`);
    assert.equal((await health.json()).status, "ok");
    assert.ok(Deno.statSync(db).isFile, `no database at ${db}`);
    assert.ok(log.includes(db), "the banner names the database from the file");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel().catch(() => {});
  }
});

Deno.test({
  name: analyze
    ? "systemd unit passes systemd-analyze verify without a warning"
    : "systemd unit passes systemd-analyze verify (skipped: systemd-analyze not installed)",
  ignore: !analyze,
  fn: async () => {
    // verify checks that ExecStart exists, so it runs against a root folder holding the system's
    // units, the unit, and a test fixture script at the binary's path (never a relay).
    using root = tempDir();
    const unitDir = join(root.path, "etc/systemd/system");
    const binDir = join(root.path, "usr/local/bin");
    Deno.mkdirSync(unitDir, { recursive: true });
    Deno.mkdirSync(binDir, { recursive: true });
    Deno.mkdirSync(join(root.path, "usr/lib/systemd"), { recursive: true });
    const copy = await run("cp", {
      args: ["-a", "/usr/lib/systemd/system", join(root.path, "usr/lib/systemd/")],
    });
    assert.equal(copy.code, 0, copy.stderr);
    Deno.writeTextFileSync(join(binDir, "vaultmesh-relay"), "#!/bin/sh\n# test fixture\n", {
      mode: 0o755,
    });
    Deno.mkdirSync(join(root.path, "etc/vaultmesh-relay"));
    Deno.writeTextFileSync(join(root.path, SYSTEMD_ENV_PATH), exampleText);
    const installed = join(unitDir, "vaultmesh-relay.service");
    Deno.writeTextFileSync(installed, unitText);
    const result = await run(analyze!, { args: ["verify", `--root=${root.path}`, installed] });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.trim(), "", "systemd-analyze verify warned");
    assert.equal(result.stdout.trim(), "");
  },
});

Deno.test({
  name: analyze
    ? "systemd unit scores 2.0 or lower in systemd-analyze security --offline=true"
    : "systemd unit scores 2.0 or lower (skipped: systemd-analyze not installed)",
  ignore: !analyze,
  fn: async () => {
    const result = await run(analyze!, {
      args: ["security", "--offline=true", "--no-pager", UNIT],
      env: { NO_COLOR: "1", SYSTEMD_COLORS: "0" },
    });
    const match = /Overall exposure level for vaultmesh-relay\.service: (\d+\.\d)/.exec(
      result.stdout,
    );
    assert.ok(match, result.stdout + result.stderr);
    const score = Number(match[1]);
    console.log(`systemd-analyze security --offline=true: exposure ${score}`);
    assert.ok(score <= 2.0, `exposure ${score} is above 2.0`);
  },
});
