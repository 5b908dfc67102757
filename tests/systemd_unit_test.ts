import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, run, tool } from "./_package_helpers.ts";
import { tempDir } from "./_helpers.ts";

const UNIT = join(REPO_ROOT, "packaging/systemd/vaultmesh-relay.service");
const analyze = tool("systemd-analyze");
const unitText = Deno.readTextFileSync(UNIT);

/** `Key=value` lines of the unit (comments skipped). */
function settings(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unitText.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) map.set(match[1]!, [...map.get(match[1]!) ?? [], match[2]!]);
  }
  return map;
}

Deno.test("systemd unit runs /usr/local/bin/vaultmesh-relay as vaultmesh-relay with the database in its state directory", () => {
  const unit = settings();
  assert.deepEqual(unit.get("ExecStart"), [
    "/usr/local/bin/vaultmesh-relay --db /var/lib/vaultmesh-relay/relay.db",
  ]);
  assert.deepEqual(unit.get("User"), ["vaultmesh-relay"]);
  assert.deepEqual(unit.get("DynamicUser"), ["yes"]);
  assert.deepEqual(unit.get("StateDirectory"), ["vaultmesh-relay"]);
  assert.deepEqual(unit.get("Restart"), ["on-failure"]);
  assert.deepEqual(unit.get("KillSignal"), ["SIGTERM"]);
  assert.ok(unit.has("TimeoutStopSec"));
});

Deno.test("systemd unit leaves MemoryDenyWriteExecute off because V8 needs writable executable memory", () => {
  assert.deepEqual(settings().get("MemoryDenyWriteExecute"), ["no"]);
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
