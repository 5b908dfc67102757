/**
 * Several relays as one service: three relay processes behind the shipped nginx and HAProxy
 * configurations (`packaging/proxy/*-shards*`), which route each vault to one relay by consistent
 * hashing of the vault id in the path. 200 vaults, each with a sending device (HTTP) and a
 * subscribing device (socket), all through the proxy; each relay's own usage figures show where
 * every vault's traffic landed; then one relay is killed with SIGKILL and only its vaults stop.
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateVaultKeys, RelayClient, RelayError, type RelaySocket } from "../lib/client/mod.ts";
import { defaultConfig, parseCommand } from "../lib/config/mod.ts";
import { freePort, type RelayProcess, spawnRelay } from "../scripts/relay_process.ts";
import type { Relay } from "../lib/relay.ts";
import { startRelay, tempDir } from "./_helpers.ts";

const PACKAGED = new URL("../packaging/proxy/", import.meta.url).pathname;

/** The first of `paths` that is a file. */
function installed(paths: readonly string[]): string | undefined {
  return paths.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

const NGINX = installed(["/usr/sbin/nginx", "/usr/bin/nginx"]);
const HAPROXY = installed(["/usr/sbin/haproxy", "/usr/bin/haproxy"]);
const NO_NGINX = " (skipped: nginx is not installed; .ci/run installs it)";
const NO_HAPROXY = " (skipped: haproxy is not installed; .ci/run installs it)";
if (!NGINX) console.log(`shards_test:${NO_NGINX}`);
if (!HAPROXY) console.log(`shards_test:${NO_HAPROXY}`);

const VAULTS = 200;
const SHARDS = ["relay-1", "relay-2", "relay-3"] as const;
/** The relay addresses written in the packaged configurations, in the order of SHARDS. */
const EXAMPLE_ADDRESSES = ["10.0.1.11:3030", "10.0.1.12:3030", "10.0.1.13:3030"];
/** Operations in flight at once from the test's clients (sends, socket handshakes, usage reads). */
const CONCURRENCY = 40;

/** Runs `work` for each item, at most `limit` at a time; results in item order. */
async function pooled<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function output(command: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
}

function decoded(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A proxy process started from a packaged configuration rewritten for this machine. */
interface Proxy {
  readonly url: string;
  stop(): Promise<void>;
}

/** Resolves once `url` answers at all (any status), or fails naming the last error. */
async function untilAnswers(url: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  assert.fail(`The proxy never answered at ${url}: ${(last as Error).message}`);
}

/** Replaces the example relay addresses with the test relays' (`host:port`). */
function withRelays(text: string, relays: readonly string[]): string {
  return EXAMPLE_ADDRESSES.reduce(
    (config, example, i) => config.replaceAll(example, relays[i]!),
    text,
  );
}

/** Where a proxy sends traffic: three relays' `host:port`, and an edit of its ring, if any. */
interface ProxySetup {
  readonly relays: readonly string[];
  readonly edit?: (config: string) => string;
}

/** Starts a proxy for a setup, with its files in `dir`. */
type StartProxy = (dir: string, setup: ProxySetup) => Promise<Proxy>;

/**
 * `packaging/proxy/nginx-shards.conf` on loopback: the TLS server becomes plain HTTP on a free
 * port (TLS through the packaged nginx is what proxy_test.ts covers), the rest is as shipped.
 */
function nginxSite(setup: ProxySetup, port: number): string {
  const shipped = Deno.readTextFileSync(`${PACKAGED}nginx-shards.conf`);
  assert.match(shipped, /hash \$vaultmesh_vault consistent;/);
  const site = withRelays(shipped, setup.relays)
    .replace(/server \{\s*listen 80;[^}]*\}/, "")
    .replace(/# Any other Host[\s\S]*$/, "")
    .replaceAll("listen [::]:443 ssl;", "")
    .replaceAll("listen 443 ssl;", `listen 127.0.0.1:${port};`)
    .replace(/^\s*ssl_\S+ .*$/gm, "")
    .replaceAll(
      "/etc/nginx/vaultmesh_relay_headers.conf",
      `${PACKAGED}vaultmesh_relay_headers.conf`,
    );
  return setup.edit?.(site) ?? site;
}

const startNginx: StartProxy = async (dir, setup) => {
  const port = freePort();
  await Deno.writeTextFile(`${dir}/site.conf`, nginxSite(setup, port));
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    [
      "worker_processes 1;",
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      "events { worker_connections 4096; }",
      "http {",
      "  access_log off;",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((temp) =>
        `  ${temp}_temp_path ${dir}/${temp};`
      ),
      `  include ${dir}/site.conf;`,
      "}",
    ].join("\n"),
  );
  const args = ["-c", `${dir}/nginx.conf`, "-p", dir];
  const check = await output(NGINX!, ["-t", "-q", ...args]);
  assert.ok(check.success, `nginx -t: ${decoded(check.stderr)}`);
  const child = new Deno.Command(NGINX!, {
    args: [...args, "-g", "daemon off;"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/health`);
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
};

/**
 * `packaging/proxy/haproxy-shards.cfg` on loopback: the TLS bind becomes plain HTTP on a free port
 * (and so the redirect to HTTPS goes), the rest is as shipped.
 */
function haproxyConfig(setup: ProxySetup, port: number): string {
  const shipped = Deno.readTextFileSync(`${PACKAGED}haproxy-shards.cfg`);
  assert.match(shipped, /balance uri depth 3\s+hash-type consistent/);
  const config = withRelays(shipped, setup.relays)
    .replace(/^\s*bind :80\s*$/m, "")
    .replace(/^\s*bind :443 ssl .*$/m, `    bind 127.0.0.1:${port}`)
    .replace(/^\s*http-request redirect scheme https .*$/m, "")
    .replace("maxconn 20000", "maxconn 4096");
  return setup.edit?.(config) ?? config;
}

const startHaproxy: StartProxy = async (dir, setup) => {
  const port = freePort();
  const config = `${dir}/haproxy.cfg`;
  await Deno.writeTextFile(config, haproxyConfig(setup, port));
  const check = await output(HAPROXY!, ["-c", "-q", "-f", config]);
  assert.ok(check.success, `haproxy -c: ${decoded(check.stdout)}${decoded(check.stderr)}`);
  const child = new Deno.Command(HAPROXY!, {
    args: ["-db", "-f", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/health`);
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
};

/** Three relay processes, each with its own database and shard name, trusting the local proxy. */
async function startShards(dir: string): Promise<RelayProcess[]> {
  return await Promise.all(SHARDS.map((name) =>
    spawnRelay([
      "--listen",
      "127.0.0.1:0",
      "--db",
      `${dir}/${name}.db`,
      "--p2p-port",
      "0",
      "--shard-name",
      name,
      "--trust-proxy",
      "127.0.0.1",
      // Every device of the test comes from 127.0.0.1: per-address limits would throttle the test,
      // not exercise sharding.
      "--rate-limit-ip",
      "0",
      "--rate-limit-new-vaults",
      "0",
      "--max-connections-per-ip",
      "4096",
    ])
  ));
}

/** One vault of the test: a sender over HTTP and a subscriber on a socket, both via the proxy. */
interface Vault {
  readonly keys: CryptoKeyPair;
  readonly sender: RelayClient;
  readonly socket: RelaySocket;
  /** Bodies the subscriber received live, as text. */
  readonly received: string[];
  /** Settles when the socket closes. */
  closed: boolean;
}

async function openVaults(url: string): Promise<Vault[]> {
  const keys = await Promise.all(Array.from({ length: VAULTS }, () => generateVaultKeys()));
  return await pooled(keys, CONCURRENCY, async (pair) => {
    const [sender, subscriber] = await Promise.all(
      ["laptop", "phone"].map((device) => RelayClient.create({ url, keys: pair, device })),
    );
    const received: string[] = [];
    const socket = await subscriber!.connect({
      onEnvelope: (envelope) => received.push(decoded(envelope.body)),
    });
    const vault: Vault = { keys: pair, sender: sender!, socket, received, closed: false };
    socket.closed.then(() => vault.closed = true);
    return vault;
  });
}

/** Resolves once `done()` holds, polling; fails after `ms` with `what`. */
async function until(done: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(what());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The latest seq of `vault` on each relay, read from the relay itself (not through the proxy). */
async function latestSeqOnEachRelay(
  vault: Vault,
  relays: readonly RelayProcess[],
): Promise<number[]> {
  return await Promise.all(relays.map(async (relay) => {
    const client = await RelayClient.create({ url: relay.url, keys: vault.keys, device: "audit" });
    return (await client.usage()).latestSeq;
  }));
}

/** The whole scenario against one proxy. */
async function shardScenario(start: StartProxy) {
  using dir = tempDir();
  await Deno.chmod(dir.path, 0o755);
  const relays = await startShards(dir.path);
  let proxy: Proxy | undefined;
  let vaults: Vault[] = [];
  try {
    proxy = await start(dir.path, { relays: relays.map((relay) => new URL(relay.url).host) });
    const base = proxy.url;
    const started = performance.now();

    // Requests that belong to no vault go to any relay, and the answer names which one.
    const health = await fetch(`${base}/health`);
    assert.deepEqual(await health.json(), {
      status: "ok",
      protocol: "vaultmesh-relay-3",
      mode: "store-and-forward",
      buffering: "enabled",
    });
    assert.ok(SHARDS.includes(health.headers.get("x-vaultmesh-shard") as typeof SHARDS[number]));

    vaults = await openVaults(base);
    const opened = performance.now();
    const ROUNDS = 3;
    for (let round = 1; round <= ROUNDS; round++) {
      const results = await pooled(
        vaults,
        CONCURRENCY,
        (vault, i) => vault.sender.send(new TextEncoder().encode(`vault ${i} envelope ${round}`)),
      );
      // Delivered live means the send and the socket of the vault met on the same relay.
      results.forEach((result, i) =>
        assert.equal(result.recipients, 1, `vault ${i} round ${round}`)
      );
    }
    await until(
      () => vaults.every((vault) => vault.received.length === ROUNDS),
      10_000,
      () => `not every subscriber received ${ROUNDS} envelopes`,
    );
    const sent = performance.now();

    // Each relay's own figures: the vault's envelopes are on exactly one of them.
    const seqs = await pooled(vaults, CONCURRENCY, (vault) => latestSeqOnEachRelay(vault, relays));
    const owner = seqs.map((perRelay, i) => {
      const holders = perRelay.flatMap((seq, relay) => seq > 0 ? [relay] : []);
      assert.equal(holders.length, 1, `vault ${i} has envelopes on relays ${holders.join(", ")}`);
      assert.equal(perRelay[holders[0]!], ROUNDS);
      return holders[0]!;
    });
    const perShard = SHARDS.map((_, relay) => owner.filter((o) => o === relay).length);
    console.log(
      `  ${VAULTS} vaults per relay ${perShard.join(" / ")}; sockets open in ` +
        `${((opened - started) / 1000).toFixed(1)} s, ${ROUNDS * VAULTS} envelopes sent and ` +
        `delivered in ${((sent - opened) / 1000).toFixed(1)} s`,
    );
    // Consistent hashing spreads them: no relay is left idle or gets nearly all.
    for (const count of perShard) assert.ok(count > VAULTS / 10 && count < VAULTS * 0.6);

    // SIGKILL the relay with the most vaults: only its vaults are interrupted.
    const victim = perShard.indexOf(Math.max(...perShard));
    await relays[victim]!.stop("SIGKILL");
    await until(
      () => vaults.every((vault, i) => vault.closed === (owner[i] === victim)),
      5_000,
      () => "the sockets of the killed relay's vaults did not close, or others did",
    );
    const after = await pooled(vaults, CONCURRENCY, async (vault, i) => {
      try {
        return await vault.sender.send(new TextEncoder().encode(`vault ${i} after the kill`));
      } catch (error) {
        return error as Error;
      }
    });
    after.forEach((result, i) => {
      if (owner[i] === victim) {
        // No failover: the vault waits for its relay, and the proxy says so in protocol terms.
        assert.ok(result instanceof RelayError, `vault ${i} should wait for its relay`);
        assert.equal(result.status, 503);
        assert.equal(result.code, "busy");
      } else {
        assert.ok(!(result instanceof Error), `vault ${i}: ${(result as Error).message}`);
        assert.equal(result.recipients, 1, `vault ${i} still flows`);
      }
    });
    await until(
      () => vaults.every((vault, i) => owner[i] === victim || vault.received.length === ROUNDS + 1),
      10_000,
      () => "the vaults of the surviving relays stopped flowing",
    );
    // Requests of no vault skip the dead relay.
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${base}/health`);
      await response.body?.cancel();
      assert.equal(response.status, 200);
      assert.notEqual(response.headers.get("x-vaultmesh-shard"), SHARDS[victim]);
    }
  } finally {
    await Promise.all(vaults.map((vault) => vault.socket.close()));
    await proxy?.stop();
    await Promise.all(relays.map((relay) => relay.stop("SIGTERM")));
  }
}

Deno.test({
  name: "nginx-shards.conf routes each of 200 vaults to one of three relays, and a killed relay " +
    "interrupts only its own vaults" + (NGINX ? "" : NO_NGINX),
  ignore: NGINX === undefined,
  fn: () => shardScenario(startNginx),
});

Deno.test({
  name: "haproxy-shards.cfg routes each of 200 vaults to one of three relays, and a killed relay " +
    "interrupts only its own vaults" + (HAPROXY ? "" : NO_HAPROXY),
  ignore: HAPROXY === undefined,
  fn: () => shardScenario(startHaproxy),
});

/** A throwaway self-signed certificate and key in `dir` (for config checks, never served). */
async function throwawayCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`, key = `${dir}/key.pem`;
  const made = await output("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=relay.example.org",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  assert.ok(made.success, decoded(made.stderr));
  return { cert, key };
}

Deno.test({
  name: "nginx-shards.conf as shipped, TLS included, passes nginx -t" + (NGINX ? "" : NO_NGINX),
  ignore: NGINX === undefined,
  async fn() {
    using dir = tempDir();
    const { cert, key } = await throwawayCertificate(dir.path);
    const site = Deno.readTextFileSync(`${PACKAGED}nginx-shards.conf`)
      .replaceAll("/etc/letsencrypt/live/relay.example.org/fullchain.pem", cert)
      .replaceAll("/etc/letsencrypt/live/relay.example.org/privkey.pem", key)
      .replaceAll(
        "/etc/nginx/vaultmesh_relay_headers.conf",
        `${PACKAGED}vaultmesh_relay_headers.conf`,
      );
    await Deno.writeTextFile(`${dir.path}/site.conf`, site);
    await Deno.writeTextFile(
      `${dir.path}/nginx.conf`,
      `pid ${dir.path}/nginx.pid;\nerror_log ${dir.path}/error.log;\nevents {}\n` +
        `http { include ${dir.path}/site.conf; }\n`,
    );
    const check = await output(NGINX!, [
      "-t",
      "-q",
      "-c",
      `${dir.path}/nginx.conf`,
      "-p",
      dir.path,
    ]);
    assert.ok(check.success, decoded(check.stderr));
  },
});

Deno.test({
  name: "haproxy-shards.cfg as shipped, TLS included, passes haproxy -c" +
    (HAPROXY ? "" : NO_HAPROXY),
  ignore: HAPROXY === undefined,
  async fn() {
    using dir = tempDir();
    const { cert, key } = await throwawayCertificate(dir.path);
    const pem = `${dir.path}/relay.example.org.pem`;
    await Deno.writeTextFile(pem, Deno.readTextFileSync(cert) + Deno.readTextFileSync(key));
    const config = `${dir.path}/haproxy.cfg`;
    await Deno.writeTextFile(
      config,
      Deno.readTextFileSync(`${PACKAGED}haproxy-shards.cfg`)
        .replaceAll("/etc/haproxy/certs/relay.example.org.pem", pem),
    );
    const check = await output(HAPROXY!, ["-c", "-f", config]);
    assert.ok(check.success, decoded(check.stdout) + decoded(check.stderr));
    assert.match(decoded(check.stdout), /Configuration file is valid/);
  },
});

/** How to add a fourth relay to, or take the second off, a proxy's ring, in its own syntax. */
interface RingEdits {
  readonly start: StartProxy;
  add(config: string, relays: readonly string[]): string;
  remove(config: string, relays: readonly string[]): string;
}

/** Replaces exactly one occurrence of `line` in `config`. */
function replaceLine(config: string, line: string, replacement: string): string {
  assert.equal(config.split(line).length, 2, `expected one line "${line.trim()}"`);
  return config.replace(line, replacement);
}

const NGINX_RING: RingEdits = {
  start: startNginx,
  add: (config, relays) =>
    replaceLine(
      config,
      `    server ${relays[2]} max_fails=0;\n`,
      `    server ${relays[2]} max_fails=0;\n    server ${relays[3]} max_fails=0;\n`,
    ),
  remove: (config, relays) => replaceLine(config, `    server ${relays[1]} max_fails=0;\n`, ""),
};

const HAPROXY_RING: RingEdits = {
  start: startHaproxy,
  add: (config, relays) =>
    replaceLine(
      config,
      `    server relay-3 ${relays[2]} id 3\n`,
      `    server relay-3 ${relays[2]} id 3\n    server relay-4 ${relays[3]} id 4\n`,
    ),
  remove: (config, relays) => replaceLine(config, `    server relay-2 ${relays[1]} id 2\n`, ""),
};

/** A random, well-formed vault id: unpadded base64url of 32 bytes. */
function randomVaultId(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** Which relay the proxy sends each vault to: the X-VaultMesh-Shard of an unsigned request. */
async function shardOf(url: string, vaults: readonly string[]): Promise<string[]> {
  return await pooled(vaults, CONCURRENCY, async (vault) => {
    const response = await fetch(`${url}/v3/vaults/${vault}/envelopes`, {
      headers: { "x-vaultmesh-protocol": "3" },
    });
    await response.body?.cancel();
    assert.equal(response.status, 401);
    return response.headers.get("x-vaultmesh-shard")!;
  });
}

/** Adding a relay moves about 1/4 of the vaults, all to it; removing one moves only its own. */
async function ringScenario(ring: RingEdits): Promise<void> {
  using dir = tempDir();
  await Deno.chmod(dir.path, 0o755);
  const names = [...SHARDS, "relay-4"];
  const relays: Relay[] = [];
  try {
    for (const shardName of names) {
      // All requests come from 127.0.0.1: the per-address rate limit is not what is tested here.
      relays.push(
        await startRelay(dir.path, {
          shardName,
          db: `${dir.path}/${shardName}.db`,
          rateLimitIp: null,
        }),
      );
    }
    const addresses = relays.map((relay) => new URL(relay.url).host);
    const vaults = Array.from({ length: 1000 }, randomVaultId);
    const routed = async (edit?: (config: string) => string) => {
      const proxy = await ring.start(
        dir.path,
        edit ? { relays: addresses, edit } : { relays: addresses },
      );
      try {
        return await shardOf(proxy.url, vaults);
      } finally {
        await proxy.stop();
      }
    };
    const before = await routed();
    assert.ok(!before.includes("relay-4"));
    const added = await routed((config) => ring.add(config, addresses));
    const moved = vaults.filter((_, i) => added[i] !== before[i]);
    assert.ok(moved.every((vault) => added[vaults.indexOf(vault)] === "relay-4"));
    const removed = await routed((config) => ring.remove(config, addresses));
    const movedOff = vaults.filter((_, i) => removed[i] !== before[i]);
    assert.ok(movedOff.every((vault) => before[vaults.indexOf(vault)] === "relay-2"));
    assert.ok(removed.every((shard) => shard !== "relay-2"));
    const share = (count: number) => `${(100 * count / vaults.length).toFixed(1)} %`;
    console.log(
      `  adding a 4th relay moved ${share(moved.length)} of ${vaults.length} vaults (all to it); ` +
        `removing relay-2 moved ${share(movedOff.length)} (only its own)`,
    );
    assert.ok(moved.length > vaults.length * 0.15 && moved.length < vaults.length * 0.35);
  } finally {
    for (const relay of relays) await relay.stop();
  }
}

Deno.test({
  name: "adding a relay to nginx-shards.conf moves about a quarter of the vaults, all to it, and " +
    "removing one moves only its own" + (NGINX ? "" : NO_NGINX),
  ignore: NGINX === undefined,
  fn: () => ringScenario(NGINX_RING),
});

Deno.test({
  name:
    "adding a relay to haproxy-shards.cfg moves about a quarter of the vaults, all to it, and " +
    "removing one moves only its own" + (HAPROXY ? "" : NO_HAPROXY),
  ignore: HAPROXY === undefined,
  fn: () => ringScenario(HAPROXY_RING),
});

Deno.test("a relay names its shard in a header on every answer, on its status page and in metrics", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    shardName: "eu-2",
    metricsListen: { hostname: "127.0.0.1", port: 0 },
  });
  for (const path of ["/health", "/", "/v3/address", "/no-such-page"]) {
    const response = await fetch(`${relay.url}${path}`, {
      headers: { "x-vaultmesh-protocol": "3" },
    });
    const body = await response.text();
    assert.equal(response.headers.get("x-vaultmesh-shard"), "eu-2", path);
    if (path === "/") assert.match(body, /<dt>Shard<\/dt><dd>eu-2<\/dd>/);
    if (path === "/health") assert.ok(!body.includes("eu-2"), "the health JSON is unchanged");
  }
  const { hostname, port } = relay.metricsAddress!;
  const metrics = await (await fetch(`http://${hostname}:${port}/metrics`)).text();
  assert.match(metrics, /^vaultmesh_relay_shard_info\{shard="eu-2"\} 1$/m);
});

Deno.test("--shard-name defaults to the host name and takes only what a header and a label can carry", () => {
  assert.equal(defaultConfig().shardName, Deno.hostname());
  const named = parseCommand([], { VAULTMESH_RELAY_SHARD_NAME: "relay-2.eu" });
  assert.equal(named.kind === "run" && named.config.shardName, "relay-2.eu");
  for (const bad of ["relay 2", "relä", "a/b", "x".repeat(254)]) {
    assert.throws(
      () => parseCommand(["--shard-name", bad], {}),
      /Cannot parse --shard-name .*expected empty \(the host name\), or 1 to 253 letters/,
    );
  }
});
