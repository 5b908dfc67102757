/**
 * The storage attacks of issue 14: fresh-key flooding, one ack on a large vault, shared tables
 * filled from one address, and storage faults (full disk, read-only file, deleted file). Each
 * starts its own relay child and adds its figures to a {@linkcode Row}.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { Database } from "../../lib/store/database.ts";
import { EnvelopeStore } from "../../lib/store/envelopes.ts";
import { relayLimits } from "../../lib/limits.ts";
import { defaultConfig } from "../../lib/config/parse.ts";
import { fdBudget } from "../../lib/guard/fd_budget.ts";
import { FULL_MEMORY } from "../../lib/guard/memory_limit.ts";
import {
  generateVaultKeys,
  RelayClient,
  RelayError,
  type RelaySocket,
  vaultIdOfKeys,
} from "../../lib/client/mod.ts";
import { fixed, percentile } from "./_load.ts";
import { fetchFrom, healthProbe, HONEST, sleep } from "./_abuse_net.ts";
import { type AttackContext, mib, ms, Row } from "./_abuse_row.ts";
import { holdUntilCleaned, scratchDir, startTarget, type Target } from "./_abuse_target.ts";

const MiB = 2 ** 20;
/** The flood stops by itself when the database reaches this, to keep the machine's disk. */
const FLOOD_SAFETY_BYTES = 8 * 2 ** 30;

/** Bytes of the database file and its WAL and shared-memory files. */
function databaseBytes(path: string): number {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      total += Deno.statSync(`${path}${suffix}`).size;
    } catch {
      // Not there (yet).
    }
  }
  return total;
}

/** Resolves with `work`'s value, or `fallback` after `ms`. */
function within<T, F>(work: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return Promise.race([work, sleep(ms).then(() => fallback)]);
}

/** Clients for `devices` of one new vault, optionally with a fetch bound to another address. */
async function vault(
  url: string,
  devices: readonly string[],
  fetch?: typeof globalThis.fetch,
): Promise<RelayClient[]> {
  const keys = await generateVaultKeys();
  return await Promise.all(
    devices.map((device) => RelayClient.create({ url, keys, device, ...(fetch ? { fetch } : {}) })),
  );
}

/** An honest device's pace: half the default per-address rate limit (`--rate-limit-ip 20/100`). */
const HONEST_PER_SECOND = 10;

/**
 * Envelopes per second an honest device sending at {@linkcode HONEST_PER_SECOND} gets accepted
 * (at most 16 sends in flight): below its rate limit, so only the relay's state can refuse it.
 */
async function honestRate(
  send: (body: Uint8Array<ArrayBuffer>) => Promise<unknown>,
  seconds: number,
): Promise<{ perSecond: number; failures: number; codes: Record<string, number> }> {
  let ok = 0;
  let failures = 0;
  const codes: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  for (let i = 0; i < seconds * HONEST_PER_SECOND; i++) {
    if (pending.size < 16) {
      const sent = send(new Uint8Array(1024)).then(() => void ok++, (error) => {
        failures++;
        const code = error instanceof RelayError ? error.code : (error as Error).name;
        codes[code] = (codes[code] ?? 0) + 1;
      });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    }
    await sleep(Math.max(0, started + ((i + 1) * 1000) / HONEST_PER_SECOND - performance.now()));
  }
  await Promise.all(pending);
  return { perSecond: ok / seconds, failures, codes };
}

/**
 * Fresh-key flooding: one address creates vault after vault and fills each with 1 MiB envelopes
 * over sockets and HTTP, for twice the window. Database size over time, and an honest vault's
 * send rate (HTTP at a steady 10/s, from {@linkcode HONEST}: a WebSocket cannot choose its source
 * address, and an honest client does not share the attacker's) before and during the flood.
 */
export async function keyFlood(context: AttackContext, row: Row): Promise<void> {
  const floodSeconds = 2 * context.seconds;
  await using dir = scratchDir();
  const db = `${dir.path}/relay.db`;
  await using target = await startTarget({ dir: dir.path });
  const honest = fetchFrom(HONEST);
  const [sender, reader] = await vault(target.url, ["honest-a", "honest-b"], honest.fetch);
  let seen = 0;
  const readerSocket = await reader!.connect({ onEnvelope: (e) => void (seen = e.seq) });
  const acking = setInterval(() => {
    if (seen > 0) readerSocket.ack(seen).catch(() => {});
  }, 200);
  const honestSend = (body: Uint8Array<ArrayBuffer>) => sender!.send(body);
  try {
    const baseline = await honestRate(honestSend, Math.min(5, context.seconds));
    const sizes: [number, number][] = [];
    const started = Date.now();
    const deadline = started + floodSeconds * 1000;
    let stoppedBySafety = false;
    const sampling = setInterval(() => {
      const bytes = databaseBytes(db);
      sizes.push([(Date.now() - started) / 1000, bytes]);
      if (bytes > FLOOD_SAFETY_BYTES) stoppedBySafety = true;
    }, (floodSeconds * 1000) / 6);
    const going = () => Date.now() < deadline && !stoppedBySafety && !target.death();
    const body = new Uint8Array(MiB);
    let vaults = 0;
    let socketBytes = 0;
    let httpBytes = 0;
    const refusals = new Map<string, number>();
    const refused = (error: unknown) => {
      const code = error instanceof RelayError ? error.code : (error as Error).name;
      refusals.set(code, (refusals.get(code) ?? 0) + 1);
      return code;
    };
    const overSockets = Array.from({ length: 8 }, async () => {
      while (going()) {
        const [client] = await vault(target.url, ["flood"]);
        let socket: RelaySocket;
        try {
          socket = await client!.connect();
        } catch (error) {
          refused(error);
          await sleep(100);
          continue;
        }
        let stored = 0;
        let full = false;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (!full && going()) {
            const outcome = await within(
              socket.send(body).then(() => true, (error) => (refused(error), false)),
              5000,
              false,
            );
            if (outcome) stored++;
            else full = true;
          }
        }));
        if (stored > 0) vaults++;
        socketBytes += stored * MiB;
        await within(socket.close(), 1000, undefined);
      }
    });
    const overHttp = Array.from({ length: 8 }, async () => {
      while (going()) {
        const [client] = await vault(target.url, ["flood"]);
        let stored = 0;
        while (going()) {
          try {
            await client!.send(body);
            stored++;
          } catch (error) {
            const code = refused(error);
            if (code === "rate_limited" || code === "too_many_in_flight") await sleep(20);
            else break;
          }
        }
        if (stored > 0) vaults++;
        httpBytes += stored * MiB;
      }
    });
    const [during] = await Promise.all([
      honestRate(honestSend, floodSeconds),
      within(Promise.all([...overSockets, ...overHttp]), (floodSeconds + 10) * 1000, undefined),
    ]);
    clearInterval(sampling);
    sizes.push([(Date.now() - started) / 1000, databaseBytes(db)]);
    row.alive(target);
    row.add(
      "databaseMib",
      sizes.map(([t, bytes]) => [t, bytes / MiB]),
      `database MiB at ${sizes.map(([t]) => `${fixed(t, 0)}`).join("/")} s: ${
        sizes.map(([, bytes]) => mib(bytes)).join(" / ")
      }` + (stoppedBySafety
        ? ` (flood stopped at the bench's ${FLOOD_SAFETY_BYTES / 2 ** 30} GiB safety cap)`
        : ""),
      "≤ --max-db-size",
    );
    row.add(
      "attackerVaults",
      vaults,
      `${floodSeconds} s flood from one address: ${vaults} new vaults, ${
        mib(socketBytes)
      } MiB stored over sockets, ${mib(httpBytes)} MiB over HTTP; refusals ${
        JSON.stringify(Object.fromEntries(refusals))
      }`,
    );
    const ratio = during.perSecond / baseline.perSecond;
    row.add(
      "honestRatio",
      ratio,
      `honest sends/s (HTTP, another address) ${fixed(baseline.perSecond, 0)} before, ${
        fixed(during.perSecond, 0)
      } during (ratio ${fixed(ratio, 2)}; refused before ${JSON.stringify(baseline.codes)}, ` +
        `during ${JSON.stringify(during.codes)})`,
      "≥ 0.90",
    );
  } finally {
    clearInterval(acking);
    await within(readerSocket.close(), 2000, undefined);
    honest.client.close();
  }
}

/**
 * Writes a vault of `envelopes` broadcasts from device-000 and `devices` recent devices into the
 * relay's own schema (created by starting the relay once). Every device has acknowledged up to
 * `acked` except the last one, which acknowledged nothing: so nothing can be deleted, and a relay
 * that checks each envelope against each device walks almost every device for every envelope.
 */
async function buildLargeVault(
  dir: string,
  options: { envelopes: number; devices: number; vaultId: string; acked: number },
): Promise<number> {
  {
    await using first = await startTarget({ dir });
    first.signal("SIGTERM");
    await within(first.ended, 10_000, undefined);
  }
  const started = performance.now();
  const db = new DatabaseSync(`${dir}/relay.db`);
  try {
    const now = Date.now();
    const expires = now + 72 * 3600 * 1000;
    db.exec("BEGIN");
    db.prepare(
      "INSERT INTO vaults (vault, next_seq, used_bytes, envelope_count) VALUES (?, ?, ?, ?)",
    ).run(options.vaultId, options.envelopes + 1, options.envelopes * 64, options.envelopes);
    const envelope = db.prepare(
      "INSERT INTO envelopes (vault, seq, sender, recipient, size, created_at, expires_at, body) " +
        "VALUES (?, ?, 'device-000', NULL, 64, ?, ?, zeroblob(64))",
    );
    for (let seq = 1; seq <= options.envelopes; seq++) {
      envelope.run(options.vaultId, seq, now, expires);
    }
    const device = db.prepare(
      "INSERT INTO devices (vault, device, acked, last_seen) VALUES (?, ?, ?, ?)",
    );
    for (let d = 0; d < options.devices; d++) {
      const acked = d === 0 || d === options.devices - 1 ? 0 : options.acked;
      device.run(options.vaultId, `device-${String(d).padStart(3, "0")}`, acked, now);
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}

/**
 * The relay's own work for one ack, without HTTP or signatures: `EnvelopeStore.ack` on the
 * built database, for three devices moving their cursor from `base` to `base + 1`.
 */
function storeAckMs(path: string, vault: string, base: number): number[] {
  const database = Database.open(path);
  try {
    // The relay's default limits; a database cap above anything the bench writes.
    const { modes } = relayLimits(defaultConfig(), {
      maxDbBytes: Number.MAX_SAFE_INTEGER,
      fds: fdBudget(1024, { p2p: false }),
      memory: FULL_MEMORY,
    });
    const store = new EnvelopeStore(database, modes);
    return [7, 8, 9].map((d) => {
      const started = performance.now();
      store.ack(vault, `device-${String(d).padStart(3, "0")}`, base + 1, Date.now());
      return performance.now() - started;
    });
  } finally {
    database.close();
  }
}

/** Each device's first ack of `seq`, one after another: round-trip times and the answers. */
async function timedAcks(
  devices: readonly Promise<RelayClient>[],
  seq: number,
): Promise<{ ms: number[]; answers: string }> {
  const times: number[] = [];
  const answers = new Set<string>();
  for (const pending of devices) {
    const device = await pending;
    const t0 = performance.now();
    answers.add(
      await within(
        device.ack(seq).then(() => "ok", (e) => (e as RelayError).code ?? String(e)),
        30_000,
        "no answer in 30 s",
      ),
    );
    times.push(performance.now() - t0);
  }
  return { ms: times, answers: [...answers].join(", ") };
}

/**
 * One ack on a vault of 200 000 envelopes and 200 devices (built with SQL in the relay's schema;
 * devices 1-198 acknowledged all but the last 10 000, device 199 nothing), then a flood of
 * socket acks while `/health` is probed. Each ack moves its device's cursor by one.
 */
export async function largeAck(context: AttackContext, row: Row): Promise<void> {
  const envelopes = Math.ceil(200_000 * context.scale);
  const devices = Math.max(16, Math.ceil(200 * context.scale));
  const base = envelopes - Math.min(10_000, Math.floor(envelopes / 10));
  await using dir = scratchDir();
  const keys = await generateVaultKeys();
  const vaultId = await vaultIdOfKeys(keys);
  const buildSeconds = await buildLargeVault(dir.path, {
    envelopes,
    devices,
    vaultId,
    acked: base,
  });
  const inStore = storeAckMs(`${dir.path}/relay.db`, vaultId, base);
  await using target = await startTarget({ dir: dir.path });
  const client = (device: number) =>
    RelayClient.create({
      url: target.url,
      keys,
      device: `device-${String(device).padStart(3, "0")}`,
    });
  await (await fetch(`${target.url}/health`)).body?.cancel(); // a warm connection for the acks
  const big = await timedAcks(Array.from({ length: 5 }, (_, i) => client(i + 1)), base + 1);
  // The same acks on a vault of 10 envelopes, in the same relay: what an ack costs anyway.
  const smallKeys = await generateVaultKeys();
  const small = (device: string) =>
    RelayClient.create({ url: target.url, keys: smallKeys, device });
  const smallSender = await small("sender");
  for (let i = 0; i < 10; i++) await smallSender.send(new Uint8Array(1024));
  const tiny = await timedAcks(Array.from({ length: 5 }, (_, i) => small(`device-${i}`)), 1);
  row.add(
    "ackMs",
    percentile(big.ms, 50),
    `${envelopes} envelopes x ${devices} devices (built with SQL in ${fixed(buildSeconds)} s, ${
      devices - 2
    } devices at seq ${base}, one at 0): one HTTP ack moving a cursor from ${base} to ${base + 1} ${
      big.ms.map(ms).join(" / ")
    } ms (${big.answers}); the same on a vault of 10 envelopes ${
      tiny.ms.map(ms).join(" / ")
    } ms (${tiny.answers}); median difference ${
      ms(percentile(big.ms, 50) - percentile(tiny.ms, 50))
    } ms; the store's ack alone (no HTTP, no signature) ${inStore.map(ms).join(" / ")} ms`,
    "≤ 5 ms",
  );
  // A long timeout: an ack that holds the event loop for seconds should show as seconds.
  const probe = healthProbe(target.port, { timeoutMs: 10_000 });
  const sockets: RelaySocket[] = [];
  let sent = 0;
  let replied = 0;
  try {
    for (let d = 10; d < 14; d++) {
      sockets.push(await (await client(d)).connect({ after: envelopes }));
    }
    const cursors = sockets.map(() => base);
    const deadline = Date.now() + context.seconds * 1000;
    const stop = sleep(context.seconds * 1000).then(() => "stop" as const);
    // Eight acks in flight per socket, each one seq further: a client that pipelines controls.
    await Promise.all(
      sockets.flatMap((_, i) => Array.from({ length: 8 }, () => i)).map(async (i) => {
        while (Date.now() < deadline && !target.death()) {
          sent++;
          const seq = cursors[i] = Math.min(envelopes, cursors[i]! + 1);
          const acked = sockets[i]!.ack(seq).then(() => void replied++, () => sleep(50));
          if (await Promise.race([acked, stop]) === "stop") return;
        }
      }),
    );
  } catch (error) {
    row.note(`ack flood failed: ${(error as Error).message.slice(0, 80)}`);
  }
  const health = await probe.stop();
  row.alive(target);
  row.add(
    "healthP99Ms",
    health.p99,
    `flood of socket acks (${sockets.length} sockets, ${sent} sent, ${replied} answered in ${context.seconds} s): /health p99 ${
      ms(health.p99)
    } ms (max ${ms(health.max)}, ${health.failures} of ${health.probes} failed)`,
    "≤ 50 ms",
  );
  await within(Promise.all(sockets.map((socket) => socket.close())), 2000, undefined);
}

/**
 * Status of one request with the error code of an error answer (`507 storage_full`), or the
 * error's name when there was no answer.
 */
async function statusOf(request: Promise<Response>): Promise<string> {
  try {
    const response = await request;
    if (response.ok) {
      await response.body?.cancel();
      return String(response.status);
    }
    const code = await response.json().then((body) => (body as { error?: string }).error, () => "");
    return `${response.status}${code ? ` ${code}` : ""}`;
  } catch (error) {
    return (error as Error).name;
  }
}

/** An honest device on {@linkcode HONEST}: send, poll (1 s long poll), publish presence, health. */
async function honestTry(url: string): Promise<string> {
  const { fetch, client } = fetchFrom(HONEST);
  try {
    const [a, b] = await vault(url, ["honest-a", "honest-b"], fetch);
    const send = await statusOf(a!.request("POST", "/envelopes", { body: new Uint8Array(16) }));
    const poll = await statusOf(b!.request("GET", "/envelopes", { query: { wait: 1 } }));
    const presence = await statusOf(
      a!.request("PUT", "/presence", { body: new Uint8Array(32), query: { ttl: 300 } }),
    );
    const health = await statusOf(fetch(`${url}/health`));
    return `send ${send}, poll ${poll}, presence ${presence}, /health ${health}`;
  } finally {
    client.close();
  }
}

/**
 * Long polls from one address fill the relay's in-flight cap (lowered to 64 with
 * `--max-connections 64`, as issue 14 measured it); then an honest client from another address
 * sends, polls and publishes presence.
 */
export async function longPolls(context: AttackContext, row: Row): Promise<void> {
  const cap = 64;
  await using dir = scratchDir();
  await using target = await startTarget({
    dir: dir.path,
    flags: ["--max-connections", String(cap)],
  });
  const [attacker] = await vault(target.url, ["poller"]);
  let answered = 0;
  const polls = Array.from(
    { length: cap },
    () =>
      attacker!.request("GET", "/envelopes", { query: { wait: 30 } }).then(async (response) => {
        answered++;
        await response.body?.cancel();
      }, () => {}),
  );
  await sleep(Math.min(2000, context.seconds * 1000));
  const held = cap - answered;
  const honest = await honestTry(target.url);
  row.alive(target);
  row.note("--max-connections 64 (as in issue 14)");
  row.add("pollsHeld", held, `one address holds ${held} long polls`);
  row.add("honest", honest, `honest client from another address: ${honest}`, "2xx");
  target.signal("SIGKILL"); // ends the long polls
  await within(Promise.all(polls), 5000, undefined);
}

/**
 * The presence board (and with it the replay-nonce cache) filled from one address by signed
 * presence blobs of many devices; then an honest client from another address sends, polls and
 * publishes presence. Rate limits are lifted to compress time: at the default 20 requests/s one
 * address fills the 100 000 blobs (TTL up to an hour) in about 83 minutes.
 */
export async function presenceBoard(context: AttackContext, row: Row): Promise<void> {
  const seconds = 2 * context.seconds;
  await using dir = scratchDir();
  await using target = await startTarget({
    dir: dir.path,
    flags: ["--rate-limit-ip", "0", "--rate-limit-vault", "0"],
  });
  const deadline = Date.now() + seconds * 1000;
  const started = performance.now();
  const outcomes = new Map<string, number>();
  let accepted = 0;
  let full = false;
  let filledAfter = NaN;
  const blob = new Uint8Array(64);
  await Promise.all(Array.from({ length: 64 }, async (_, worker) => {
    const keys = await generateVaultKeys();
    for (let n = 0; Date.now() < deadline && !full && !target.death(); n++) {
      const client = await RelayClient.create({ url: target.url, keys, device: `w${worker}-${n}` });
      const status = await statusOf(
        client.request("PUT", "/presence", { body: blob, query: { ttl: 3600 } }),
      );
      outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
      if (status === "200") accepted++;
      else if (status.startsWith("503") && !full) {
        full = true;
        filledAfter = (performance.now() - started) / 1000;
      }
    }
  }));
  const honest = await honestTry(target.url);
  row.alive(target);
  row.note(
    "--rate-limit-ip 0 --rate-limit-vault 0 (to fill in seconds what takes ~83 min at the default 20/s)",
  );
  row.add(
    "blobsAccepted",
    accepted,
    `one address: ${accepted} presence blobs accepted (board holds 100 000), ${
      full ? `first refusal after ${fixed(filledAfter)} s` : `not full after ${seconds} s`
    }; answers ${JSON.stringify(Object.fromEntries(outcomes))}; signed requests (nonces) ${
      [...outcomes.values()].reduce((a, b) => a + b, 0)
    } (replay cache holds 500 000)`,
  );
  row.add("honest", honest, `honest client from another address: ${honest}`, "2xx");
}

/** A small ext4 file system on a loop device, mounted at a fresh folder; removed on dispose. */
async function loopMount(sizeMiB: number): Promise<{ path: string } & AsyncDisposable> {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-abuse-disk-" });
  const image = `${dir}/disk.img`;
  const path = `${dir}/mnt`;
  Deno.mkdirSync(path);
  const run = async (command: string, ...args: string[]) => {
    const { success, stderr } = await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!success) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr).trim()}`);
  };
  let mounted = false;
  const release = holdUntilCleaned(async () => {
    if (mounted) {
      await run("chattr", "-R", "-i", path).catch(() => {});
      await run("umount", path).catch(() => run("umount", "-l", path));
    }
    Deno.removeSync(dir, { recursive: true });
  });
  try {
    await run("truncate", "-s", `${sizeMiB}M`, image);
    await run("mkfs.ext4", "-q", "-F", "-m", "0", image);
    await run("mount", "-o", "loop", image, path);
    mounted = true;
  } catch (error) {
    await release();
    throw error;
  }
  return { path, [Symbol.asyncDispose]: release };
}

/**
 * The read paths probed after a storage fault: `fiveXX` counts answers of 5xx other than 503 (a
 * faulty store answers 503 with a reason where it cannot serve; `detail` lists those).
 */
async function readPaths(
  url: string,
  client: RelayClient,
): Promise<{ fiveXX: number; unanswered: number; total: number; detail: string }> {
  const statuses: [string, string][] = [];
  for (let round = 0; round < 3; round++) {
    statuses.push(
      ["health", await statusOf(fetch(`${url}/health`))],
      ["status page", await statusOf(fetch(`${url}/`))],
      [
        "address",
        await statusOf(fetch(`${url}/v3/address`, { headers: { "x-vaultmesh-protocol": "3" } })),
      ],
      ["backlog", await statusOf(client.request("GET", "/envelopes"))],
      ["usage", await statusOf(client.request("GET", ""))],
      ["presence list", await statusOf(client.request("GET", "/presence"))],
    );
  }
  // 503 with a reason is the documented answer of a faulty store (issue 14); any other 5xx is not.
  const fiveXX =
    statuses.filter(([, status]) => status.startsWith("5") && !status.startsWith("503"))
      .length;
  const unanswered = statuses.filter(([, status]) => !/^\d/.test(status)).length;
  const failing = [
    ...new Set(statuses.filter(([, s]) => !s.startsWith("2")).map(([n, s]) => `${n} ${s}`)),
  ];
  return {
    fiveXX,
    unanswered,
    total: statuses.length,
    detail: failing.length ? failing.join(", ") : "all 2xx",
  };
}

/**
 * What `/health` should say after each fault: a full disk leaves the store working (reads, acks
 * and purges are served, sends get 507 `storage_full` until space is freed), so the relay is
 * healthy; a file the relay can no longer write or find is a fault.
 */
const HEALTH_TARGET = {
  full: "200 ok: reads, acks and purges still served",
  faulty: "says the storage is faulty (503 with a reason)",
} as const;

/** After a fault: reads, a write and an ack, what /health says, and how SIGTERM ends it. */
async function afterFault(
  target: Target,
  clients: { writer: RelayClient; reader: RelayClient },
  row: Row,
  expectedHealth: keyof typeof HEALTH_TARGET = "faulty",
): Promise<void> {
  const reads = await readPaths(target.url, clients.reader);
  const send = await statusOf(
    clients.writer.request("POST", "/envelopes", { body: new Uint8Array(1024) }),
  );
  const ack = await statusOf(
    clients.reader.request("POST", "/ack", {
      body: new TextEncoder().encode(JSON.stringify({ seq: 1 })),
      headers: { "content-type": "application/json" },
    }),
  );
  let health = "no answer";
  try {
    const response = await fetch(`${target.url}/health`);
    health = `${response.status} ${(await response.text()).trim()}`;
  } catch (error) {
    health = (error as Error).name;
  }
  row.alive(target);
  row.add(
    "readFiveXX",
    reads.fiveXX,
    `5xx other than 503 on read paths ${reads.fiveXX} of ${reads.total}` +
      (reads.unanswered ? `, ${reads.unanswered} unanswered` : "") + ` (${reads.detail})`,
    "0",
  );
  row.add("health", health, `/health ${health}`, HEALTH_TARGET[expectedHealth]);
  row.add("writes", { send, ack }, `send ${send}, ack ${ack}`);
  if (target.death()) {
    row.add("sigtermExit", null, "SIGTERM: not sent, the relay was already gone", "exit 0");
    return;
  }
  target.signal("SIGTERM");
  const ended = await within(target.ended, 10_000, undefined);
  row.add(
    "sigtermExit",
    ended ? ended.code : null,
    ended ? `SIGTERM: exit ${ended.code}` : "SIGTERM: still running after 10 s",
    "exit 0",
  );
}

/** A vault with (up to) three stored envelopes: its writer and reader. */
async function victim(
  url: string,
  row: Row,
): Promise<{ writer: RelayClient; reader: RelayClient }> {
  const [writer, reader] = await vault(url, ["writer", "reader"]);
  for (let i = 0; i < 3; i++) {
    const status = await statusOf(
      writer!.request("POST", "/envelopes", { body: new Uint8Array(1024) }),
    );
    if (status !== "201") {
      row.note(`before the fault a 1 KiB send already got ${status}`);
      break;
    }
  }
  return { writer: writer!, reader: reader! };
}

/** Fills a small disk until sends get 507 storage_full; then reads, writes and stops. */
export async function fullDisk(_context: AttackContext, row: Row): Promise<void> {
  await using disk = await loopMount(24);
  await using target = await startTarget({ dir: disk.path });
  const clients = await victim(target.url, row);
  let filler = (await vault(target.url, ["filler"]))[0]!;
  let stored = 0;
  let refusal = "no refusal";
  const body = new Uint8Array(512 * 1024);
  for (let i = 0; i < 90 && !target.death(); i++) {
    const response = await filler.request("POST", "/envelopes", { body }).catch(() => undefined);
    if (!response) {
      refusal = "no answer";
      break;
    }
    const answer = await response.json().catch(() => ({})) as { error?: string };
    if (response.status === 201) stored++;
    else if (answer.error === "buffer_full") filler = (await vault(target.url, ["filler"]))[0]!;
    else {
      refusal = `${response.status} ${answer.error ?? ""}`.trim();
      break;
    }
  }
  row.note(`24 MiB ext4 on a loop device: ${stored} x 512 KiB stored, then ${refusal}`);
  await afterFault(target, clients, row, "full");
}

/** Makes the database files immutable under the running relay (writes through open files fail). */
export async function readOnlyFile(_context: AttackContext, row: Row): Promise<void> {
  await using disk = await loopMount(64);
  await using target = await startTarget({ dir: disk.path });
  const clients = await victim(target.url, row);
  // Not the -shm file: it is mapped into memory, and an immutable mapping ends any process with
  // SIGBUS, which says nothing about how the relay treats a read-only database.
  const files = ["", "-wal"].map((suffix) => `${disk.path}/relay.db${suffix}`)
    .filter((file) => {
      try {
        return Deno.statSync(file).isFile;
      } catch {
        return false;
      }
    });
  const { success } = await new Deno.Command("chattr", { args: ["+i", ...files], stderr: "null" })
    .output();
  if (!success) throw new Error("chattr +i failed");
  await sleep(3000);
  row.note(
    `chattr +i on ${
      files.map((f) => f.slice(disk.path.length + 1)).join(", ")
    } (ext4 on a loop device), 3 s before probing`,
  );
  await afterFault(target, clients, row);
}

/** Deletes the database files under the running relay. */
export async function deletedFile(_context: AttackContext, row: Row): Promise<void> {
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path });
  const clients = await victim(target.url, row);
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.removeSync(`${dir.path}/relay.db${suffix}`);
    } catch {
      // Not there.
    }
  }
  await sleep(3000);
  row.note("relay.db, -wal and -shm deleted, 3 s before probing");
  await afterFault(target, clients, row);
}
