/**
 * The service files under `packaging/` leave settings to the environment: a flag on the command
 * line wins over a `VAULTMESH_RELAY_*` variable, so a service that starts the relay with flags
 * silently ignores what an operator sets. (The systemd unit has its own tests in
 * `systemd_unit_test.ts`.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { envName, FLAG_KEYS, flagName } from "../lib/config/mod.ts";
import { REPO_ROOT } from "./_package_helpers.ts";

function packagingFiles(dir = join(REPO_ROOT, "packaging")): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...packagingFiles(path));
    else files.push(path);
  }
  return files.sort();
}

Deno.test("the Windows service starts the relay without flags and keeps its settings in the service's environment", () => {
  const script = Deno.readTextFileSync(join(REPO_ROOT, "packaging/windows/install-service.ps1"));
  const add = script.split("\n").find((line) => line.includes("& $shawl add"));
  assert.ok(add, "install-service.ps1 registers the service with shawl add");
  assert.match(add, /-- \$relay\s*$/, "nothing follows the relay's path on its command line");
  assert.doesNotMatch(script, /\$ExtraArgs/);
  assert.match(script, /VAULTMESH_RELAY_LISTEN = \$Listen; VAULTMESH_RELAY_DB = \$db/);
  assert.match(
    script,
    /New-ItemProperty -Force -Path "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\\$ServiceName"/,
  );
  assert.match(script, /-Name 'Environment' -PropertyType MultiString/);
});

Deno.test("every VAULTMESH_RELAY_* variable and relay flag named under packaging/ exists", () => {
  const variables = new Set(FLAG_KEYS.map(envName));
  const flags = new Set(FLAG_KEYS.map(flagName));
  let seen = 0;
  for (const path of packagingFiles()) {
    const text = Deno.readTextFileSync(path);
    for (const [name] of text.matchAll(/VAULTMESH_RELAY_[A-Z0-9_]*[A-Z0-9]/g)) {
      seen++;
      if (name === "VAULTMESH_RELAY_NAME") continue; // the placeholder in an error message
      assert.ok(variables.has(name), `${path} names ${name}, which is no relay setting`);
    }
    const commandLines = text.split("\n").filter((line) => /vaultmesh-relay(\.exe)? --/.test(line));
    for (const line of commandLines) {
      for (const [flag] of line.matchAll(/(?<![\w-])--[a-z][a-z0-9-]+/g)) {
        assert.ok(flags.has(flag) || flag === "--help", `${path} names the unknown flag ${flag}`);
      }
    }
  }
  assert.ok(seen > FLAG_KEYS.length, "the scan found the settings file's variables");
});
