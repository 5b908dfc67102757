import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  freePort,
  loopbackRelayFlags,
  relayCommand,
  spawnRelay,
} from "../scripts/relay_process.ts";
import { spawnTestRelay, tempDir, vaultDevices } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

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
  assert.equal(help.stderr, "");
  assert.match(help.stdout, /^Usage:\n {2}vaultmesh-relay \[flags\] /m);
  assert.match(help.stdout, /^ {2}vaultmesh-relay check <url> /m);
  assert.match(help.stdout, /^ {2}--p2p-port PORT /m);
  for (const heading of ["Server:", "Storage:", "Limits:", "Operations:"]) {
    assert.ok(help.stdout.includes(`\n${heading}\n`), heading);
  }
  const lines = help.stdout.trimEnd().split("\n");
  assert.ok(lines.every((line) => line.length <= 100), "not a terminal: 100 columns");
  const version = await runToExit(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^vaultmesh-relay \d+\.\d+\.\d+/);
});

Deno.test("the relay process refuses a --db that names a folder with status 2 and one line", async () => {
  using dir = tempDir();
  const result = await runToExit(["--db", dir.path, "--listen", "127.0.0.1:0"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    `vaultmesh-relay: Cannot use --db ${
      JSON.stringify(dir.path)
    }: it is a folder; name the database file inside it, e.g. ${dir.path}/relay.db\n`,
  );
});

Deno.test("the relay process exits 1 with a clear line when the database folder is missing", async () => {
  using dir = tempDir();
  const result = await runToExit(["--db", `${dir.path}/no/relay.db`, "--listen", "127.0.0.1:0"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /does not exist \(create it first/);
});

Deno.test("a stateless relay with p2p exits 1 with a clear line when its key file's folder is missing", async () => {
  using dir = tempDir();
  const result = await runToExit([
    "--mode",
    "stateless",
    "--db",
    `${dir.path}/no/relay.db`,
    "--listen",
    "127.0.0.1:0",
    "--p2p-port",
    String(freePort()),
  ]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^vaultmesh-relay: Cannot write the libp2p key ".*relay\.p2p-key" \(beside --db\): folder ".*no" does not exist \(create it first/m,
  );
  assert.doesNotMatch(result.stderr, /Unexpected error|\n\s+at /);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`the relay process stops on ${signal}, exits 0 and leaves a sound database`, async () => {
    using dir = tempDir();
    const db = `${dir.path}/relay.db`;
    await using relay = await spawnTestRelay(dir.path);
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

Deno.test("the relay banner names the address, mode, state and warns about plain HTTP", async () => {
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
  assert.match(text, /database\s+none \(stateless/);
  assert.match(text, /p2p\s+disabled/);
  assert.match(text, /warning\s+plain HTTP on a public address/);
});

Deno.test("a stateless relay without p2p writes no file: no database, no key file", async () => {
  using dir = tempDir();
  await using relay = await spawnRelay([...loopbackRelayFlags(dir.path), "--mode", "stateless"]);
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await relay.stop();
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

function walSize(db: string): number {
  try {
    return Deno.statSync(`${db}-wal`).size;
  } catch {
    return 0;
  }
}

Deno.test("the relay process counts signals within the grace period as one stop request", async () => {
  using dir = tempDir();
  await using relay = await spawnTestRelay(dir.path, [
    "--log-level",
    "debug",
  ]);
  // What one Ctrl-C under `deno task` looks like: the terminal's SIGINT and the forwarded one.
  relay.child.kill("SIGINT");
  relay.child.kill("SIGINT");
  relay.child.kill("SIGTERM");
  const status = await relay.stop("SIGINT");
  assert.equal(status.code, 0, relay.lines.join("\n"));
  assert.ok(relay.lines.some((line) => line.includes("Stopped cleanly")));
  assert.equal(relay.lines.filter((line) => line.includes(": stopping")).length, 1);
  assert.ok(!relay.lines.some((line) => line.includes("exiting now")), relay.lines.join("\n"));
});

Deno.test("the relay process exits 1 at once on a second SIGINT after the grace period", async () => {
  using dir = tempDir();
  await using relay = await spawnTestRelay(dir.path);
  // A long poll in flight keeps the graceful stop busy, as a slow client would.
  const [device] = await vaultDevices(relay.url, ["waiting"]);
  const poll = device!.backlog({ wait: 20 }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
  relay.child.kill("SIGINT");
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const status = await relay.stop("SIGINT");
  await poll;
  assert.equal(status.code, 1, relay.lines.join("\n"));
  assert.ok(relay.lines.some((line) => /Received SIGINT again: exiting now/.test(line)));
});

for (const mode of ["stateless", "store-and-forward"] as const) {
  Deno.test(`every output line is a JSON record with --log-format json (${mode}, long poll, check)`, async () => {
    using dir = tempDir();
    const relay = await spawnTestRelay(dir.path, [
      "--mode",
      mode,
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ]);
    try {
      const [sender, receiver] = await vaultDevices(relay.url, ["sender", "receiver"]);
      const waiting = receiver!.backlog({ wait: 5 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sender!.send(new TextEncoder().encode("ciphertext"));
      assert.equal((await waiting).envelopes.length, 1);
      const check = await relayCommand(["check", relay.url]).output();
      assert.equal(check.code, 0, new TextDecoder().decode(check.stdout));
      assert.equal(new TextDecoder().decode(check.stderr), "");
    } finally {
      assert.equal((await relay.stop("SIGTERM")).code, 0);
    }
    assert.ok(relay.lines.length > 5);
    for (const line of relay.lines.filter((line) => line !== "")) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line);
      } catch {
        assert.fail(`not a JSON record: ${line}`);
      }
      assert.equal(typeof record.level, "string", line);
      assert.equal(typeof record.message, "string", line);
    }
  });
}

/** A relay started the way an operator starts it from source, in its own process group. */
async function startFromSource(command: string, args: readonly string[]) {
  const child = new Deno.Command(command, {
    args: [...args, "--listen", "127.0.0.1:0", "--p2p-port", "0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    detached: true,
  }).spawn();
  const lines: string[] = [];
  const listening = Promise.withResolvers<string>();
  // Read until EOF: the relay holds the pipe, so EOF means the relay itself has exited.
  const closed = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const match = /listening\s+(http:\/\/\S+)/.exec(line);
        if (match) listening.resolve(match[1]!);
      }
    }
    listening.reject(new Error(`Exited before listening:\n${lines.join("\n")}`));
  })();
  const timeout = setTimeout(() => listening.reject(new Error("No banner within 60 s")), 60_000);
  const url = await listening.promise.finally(() => clearTimeout(timeout));
  return {
    url,
    lines,
    child,
    /** Resolves once every process of the chain has closed stderr, within `ms`. */
    async closed(ms: number): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Still running:\n${lines.join("\n")}`)), ms);
      });
      try {
        await Promise.race([closed, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    [Symbol.asyncDispose]: async () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // The whole group has exited.
      }
      await closed.catch(() => {});
      await child.status;
    },
  };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name: `npx deno task start stops cleanly once on ${signal} to its process group`,
    ignore: Deno.build.os === "windows",
    fn: async () => {
      using dir = tempDir();
      const db = `${dir.path}/relay.db`;
      await using relay = await startFromSource("npx", [
        "--yes",
        "deno@2.9.6",
        "task",
        "start",
        "--db",
        db,
      ]);
      assert.equal((await fetch(`${relay.url}/health`).then((r) => r.json())).status, "ok");
      // Ctrl-C, or a service manager that signals the whole group: every process gets it.
      Deno.kill(-relay.child.pid, signal);
      await relay.closed(15_000);
      const text = relay.lines.join("\n");
      assert.equal(relay.lines.filter((line) => line.includes(": stopping")).length, 1, text);
      assert.ok(text.includes("Stopped cleanly"), text);
      assert.ok(!text.includes("exiting now"), text);
      assert.equal(walSize(db), 0, "the write-ahead log was checkpointed");
    },
  });
}

Deno.test({
  name: "deno task start stops cleanly when the task runner is killed outright",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    using dir = tempDir();
    const db = `${dir.path}/relay.db`;
    await using relay = await startFromSource(Deno.execPath(), ["task", "start", "--db", db]);
    Deno.kill(relay.child.pid, "SIGKILL");
    await relay.closed(10_000);
    const text = relay.lines.join("\n");
    assert.match(text, /The task runner that started the relay \(pid \d+\) exited: stopping/);
    assert.ok(text.includes("Stopped cleanly"), text);
    assert.equal(walSize(db), 0, "the write-ahead log was checkpointed");
  },
});

Deno.test("the relay process (start task flags) runs a young-generation collection per 1 MiB of buffers", async () => {
  using dir = tempDir();
  const port = freePort();
  await using relay = await spawnTestRelay(dir.path, [
    "--metrics-listen",
    `127.0.0.1:${port}`,
  ]);
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const body = new Uint8Array(400 * 1024);
  for (let i = 0; i < 10; i++) assert.ok((await laptop!.send(body)).stored);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const scavenges = Number(/^vaultmesh_relay_scavenges_total (\d+)$/m.exec(metrics)?.[1]);
  // 10 bodies of 400 KiB and nothing read back: a collection once 1 MiB arrived since the last,
  // after the 3rd body, the 6th and the 9th (the start task exposes V8's gc).
  assert.equal(scavenges, 3, metrics.split("\n").filter((l) => l.includes("scavenge")).join("\n"));
});

const linuxWithGlibc = Deno.build.os === "linux";

Deno.test({
  name: "under --memory-limit 64MiB the relay process scales its budgets, runs its memory valve " +
    "and answers plain requests on the client's connection" +
    (linuxWithGlibc ? "" : " (skipped: the valve needs Linux with glibc)"),
  ignore: !linuxWithGlibc,
  async fn() {
    using dir = tempDir();
    const port = freePort();
    await using relay = await spawnTestRelay(dir.path, [
      "--metrics-listen",
      `127.0.0.1:${port}`,
      "--memory-limit",
      "64MiB",
    ]);
    // The banner is written whole after the listening line the helper waits for.
    for (let i = 0; i < 50 && !relay.lines.some((line) => line.includes("public url")); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      relay.lines.some((line) =>
        line.includes(
          "memory      64 MiB (--memory-limit): in-flight budgets at 12.5 %, " +
            "memory valve on",
        )
      ),
      relay.lines.join("\n"),
    );
    const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
    assert.ok(
      (await laptop!.send(new Uint8Array(1024 * 1024))).stored,
      "one largest envelope fits",
    );
    assert.equal((await phone!.backlog()).envelopes.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few checks of the valve
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (name: string) =>
      Number(new RegExp(`^vaultmesh_relay_${name} (\\S+)$`, "m").exec(metrics)?.[1]);
    assert.equal(value("memory_limit_bytes"), 64 * 1024 * 1024);
    assert.ok(value("memory_anonymous_bytes") > 8 * 1024 * 1024, "the valve reads the process");
    assert.equal(value("memory_pressure"), 0);
    assert.ok(Number.isFinite(value("heap_trims_total")));
    assert.ok(value("connections_open") > 0);
    assert.equal(
      value("connection_fds"),
      value("connections_open"),
      "one descriptor per connection: no request took the loopback hop",
    );
  },
});
