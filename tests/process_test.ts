import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { relayCommand, spawnRelay } from "../scripts/relay_process.ts";
import { tempDir } from "./_helpers.ts";

async function runToExit(args: string[]) {
  const output = await relayCommand(args).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

for (
  const [name, args, pattern] of [
    [
      "an unknown mode",
      ["--mode", "fast"],
      /--mode "fast": expected store-and-forward or stateless/,
    ],
    ["an out-of-range port", ["--listen", ":99999"], /--listen ":99999"/],
    ["a negative TTL", ["--ttl-hours", "-1"], /--ttl-hours "-1"/],
    ["an unknown flag", ["--lisen", ":1"], /Unknown flag "--lisen" \(did you mean --listen\?\)/],
  ] as const
) {
  Deno.test(`the relay process exits with status 2 and one line for ${name}`, async () => {
    const result = await runToExit([...args]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  });
}

Deno.test("the relay process prints --help and --version and exits 0", async () => {
  const help = await runToExit(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--p2p-port PORT/);
  const version = await runToExit(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^vaultmesh-relay \d+\.\d+\.\d+/);
});

Deno.test("the relay process exits 1 with a clear line when the database folder is missing", async () => {
  using dir = tempDir();
  const result = await runToExit(["--db", `${dir.path}/no/relay.db`, "--listen", "127.0.0.1:0"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /does not exist \(create it first/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`the relay process stops on ${signal}, exits 0 and leaves a sound database`, async () => {
    using dir = tempDir();
    const db = `${dir.path}/relay.db`;
    await using relay = await spawnRelay([
      "--listen",
      "127.0.0.1:0",
      "--db",
      db,
      "--p2p-port",
      "0",
    ]);
    const health = await fetch(`${relay.url}/health`);
    assert.equal((await health.json()).status, "ok");
    const status = await relay.stop(signal);
    assert.equal(status.code, 0, relay.lines.join("\n"));
    assert.ok(relay.lines.some((line) => line.includes("Stopped cleanly")));

    const walSize = (() => {
      try {
        return Deno.statSync(`${db}-wal`).size;
      } catch {
        return 0;
      }
    })();
    assert.equal(walSize, 0, "the write-ahead log was checkpointed");
    const check = new DatabaseSync(db);
    assert.equal(check.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    check.close();
  });
}

Deno.test("the relay banner names the address, mode, database and warns about plain HTTP", async () => {
  using dir = tempDir();
  const db = `${dir.path}/relay.db`;
  await using relay = await spawnRelay([
    "--listen",
    "0.0.0.0:0",
    "--db",
    db,
    "--p2p-port",
    "0",
    "--mode",
    "stateless",
  ]);
  await relay.stop();
  const text = relay.lines.join("\n");
  assert.match(text, /VaultMesh Relay \d+\.\d+\.\d+/);
  assert.match(text, /mode\s+stateless \(buffering disabled\)/);
  assert.ok(text.includes(db));
  assert.match(text, /p2p\s+disabled/);
  assert.match(text, /warning\s+plain HTTP on a public address/);
});
