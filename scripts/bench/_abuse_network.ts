/**
 * The network attacks of issue 13: file descriptors, slow readers, partial input, slowloris.
 * Each starts its own relay child with default flags, attacks it on loopback for a bounded time
 * and adds its figures to a {@linkcode Row}.
 *
 * @module
 */
import { generateVaultKeys, RelayClient, vaultIdOfKeys } from "../../lib/client/mod.ts";
import {
  contentDigest,
  REQUIRED_COMPONENTS,
  serializeSignatureParams,
  signatureBase,
} from "../../lib/protocol/signature_base.ts";
import { fixed } from "./_load.ts";
import { openFileLimit } from "../../lib/guard/fd_budget.ts";
import {
  ATTACKER,
  attackerAddress,
  fetchFrom,
  type HealthFigures,
  healthProbe,
  metricValue,
  pool,
  RawConn,
  rawHttp,
  sleep,
} from "./_abuse_net.ts";
import { fuzzCorpus, garbage, malformedCases, mulberry32 } from "./_abuse_fuzz.ts";
import { type AttackContext, growth, ms, Row } from "./_abuse_row.ts";
import { memorySampler, scratchDir, startTarget, type Target } from "./_abuse_target.ts";
import { freePort } from "../relay_process.ts";
import { authenticate, Opcode, openRawSocket, zeroMaskedFrame } from "./_abuse_ws.ts";

const MiB = 2 ** 20;

/** Lets a fresh relay finish starting (lazy imports, first GC) before its idle memory is read. */
async function settle(target: Target): Promise<ReturnType<Target["memory"]>> {
  await sleep(1000);
  return target.memory();
}

/** Adds the `/health` figures of a probe run. */
function addHealth(row: Row, health: HealthFigures, target: string): void {
  row.add(
    "healthP99Ms",
    health.p99,
    `/health p99 ${ms(health.p99)} ms (max ${
      ms(health.max)
    }, ${health.failures} of ${health.probes} failed${
      health.failures ? `: ${JSON.stringify(health.failureKinds)}` : ""
    })`,
    target,
  );
  row.values.healthFailures = health.failures;
}

/** Adds peak memory growth above idle: VmRSS and RssAnon. */
function addGrowth(
  row: Row,
  idle: { rss: number; anon: number },
  peak: { rss: number; anon: number },
  target: string,
): void {
  row.add(
    "rssGrowthMib",
    (peak.rss - idle.rss) / MiB,
    `RSS growth ${growth(peak.rss - idle.rss)} MiB (RssAnon ${
      growth(peak.anon - idle.anon)
    }) above idle ${fixed(idle.rss / MiB)} MiB`,
    target,
  );
  row.values.rssAnonGrowthMib = (peak.anon - idle.anon) / MiB;
}

/** Opens `count` connections from `localAddress` at most `parallel` at a time. */
async function openMany(
  port: number,
  count: number,
  options: { parallel?: number; localAddress?: (i: number) => string } = {},
): Promise<{ conns: RawConn[]; failed: number }> {
  const conns: RawConn[] = [];
  let failed = 0;
  await pool(Array.from({ length: count }, (_, i) => i), options.parallel ?? 100, async (i) => {
    try {
      conns.push(
        await RawConn.connect({ port, localAddress: options.localAddress?.(i) ?? ATTACKER }),
      );
    } catch {
      failed++;
    }
  });
  return { conns, failed };
}

/**
 * Under an open-file limit of 1024, 1100 connections that never send a byte: does the relay stay
 * up, how fast `/health` answers on a fresh connection meanwhile, and how many idle ones the
 * relay still holds after the window.
 */
export async function idleConnections(context: AttackContext, row: Row): Promise<void> {
  const count = Math.ceil(1100 * context.scale);
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path, fileLimit: 1024 });
  const limit = /Max open files\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${target.pid}/limits`))
    ?.[1];
  row.note(`relay open-file limit ${limit}`);
  const probe = healthProbe(target.port, { everyMs: 250 });
  const { conns, failed } = await openMany(target.port, count);
  await sleep(context.seconds * 1000);
  const health = await probe.stop();
  const open = conns.filter((conn) => !conn.isClosed).length;
  for (const conn of conns) conn.close();
  row.alive(target);
  addHealth(row, health, "≤ 1000 ms");
  row.add(
    "idleStillOpen",
    open,
    `idle still open after ${context.seconds} s: ${open} of ${count}` +
      (failed ? ` (${failed} never connected)` : ""),
    "0",
  );
}

/**
 * Slow readers: authenticated sockets that stop reading while one sender keeps the 2 MiB in
 * flight PROTOCOL.md allows. Memory growth above idle during the push and after the readers
 * are cut.
 */
export async function slowReaders(
  mode: "stateless" | "store-and-forward",
  context: AttackContext,
  row: Row,
): Promise<void> {
  // 32 sockets per vault by default, the sender's included.
  const readers = Math.max(1, Math.ceil(31 * context.scale));
  await using dir = scratchDir();
  const metricsPort = freePort();
  await using target = await startTarget({
    dir: dir.path,
    flags: [
      ...(mode === "stateless" ? ["--mode", "stateless"] : []),
      "--metrics-listen",
      `127.0.0.1:${metricsPort}`,
    ],
  });
  const idle = await settle(target);
  const keys = await generateVaultKeys();
  const vaultId = await vaultIdOfKeys(keys);
  const sockets = await Promise.all(Array.from({ length: readers }, async (_, i) => {
    const device = `reader-${i}`;
    const socket = await openRawSocket({ port: target.port, vaultId, device });
    await authenticate(socket, { port: target.port, keys, vaultId, device });
    return socket; // Never read again.
  }));
  const sender = await (await RelayClient.create({ url: target.url, keys, device: "sender" }))
    .connect();
  const sampler = memorySampler(target.pid);
  const size = 64 * 1024;
  const deadline = Date.now() + context.seconds * 1000;
  let accepted = 0;
  let refused = 0;
  const stopped = sleep(context.seconds * 1000);
  // 32 x 64 KiB keeps the 2 MiB window full; a send that never returns ends at the deadline.
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (Date.now() < deadline && !target.death()) {
      const sent = sender.send(new Uint8Array(size)).then(
        () => void accepted++,
        async () => {
          refused++;
          await sleep(50);
        },
      );
      if (await Promise.race([sent.then(() => false), stopped.then(() => true)])) return;
    }
  }));
  const during = sampler.stop();
  // Counted by the relay: the bench's own sockets are paused (they never read), so a close the
  // relay sent would never reach them.
  const open = await metricValue(metricsPort, "vaultmesh_relay_sockets_open");
  const cutByRelay = readers + 1 - open; // the sender's socket is open too
  for (const socket of sockets) socket.conn.close();
  await Promise.race([sender.close(), sleep(2000)]);
  await sleep(3000);
  const after = target.memory();
  row.alive(target);
  addGrowth(row, idle, during.peak, "≤ 32 MiB");
  row.add(
    "rssAfterCutMib",
    (after.rss - idle.rss) / MiB,
    `3 s after the readers were cut ${growth(after.rss - idle.rss)} MiB`,
  );
  row.add(
    "sentMib",
    (accepted * size) / MiB,
    `${readers} readers (32 sockets per vault by default, the sender's included); sender got ${
      fixed((accepted * size) / MiB)
    } MiB accepted, ${refused} refused`,
  );
  row.add(
    "readersCutByRelay",
    cutByRelay,
    `reader sockets the relay closed (its sockets_open gauge): ${cutByRelay} of ${readers}`,
  );
}

/**
 * Unauthenticated sockets that announce a 64 MiB frame and send part of it, from 16 addresses:
 * memory growth, `/health` p99 meanwhile, and how many are still open at the end.
 */
export async function partialFrames(context: AttackContext, row: Row): Promise<void> {
  const count = Math.ceil(256 * context.scale);
  const perSocket = 4 * MiB;
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path });
  const idle = await settle(target);
  const vaultId = await vaultIdOfKeys(await generateVaultKeys());
  const probe = healthProbe(target.port);
  const sampler = memorySampler(target.pid);
  const deadline = Date.now() + context.seconds * 1000;
  const opened: RawConn[] = [];
  let refused = 0;
  let sent = 0;
  const chunk = new Uint8Array(64 * 1024);
  await pool(Array.from({ length: count }, (_, i) => i), 64, async (i) => {
    try {
      const socket = await openRawSocket({
        port: target.port,
        vaultId,
        device: `partial-${i}`,
        localAddress: attackerAddress(i % 16),
      });
      opened.push(socket.conn);
      await socket.conn.write(zeroMaskedFrame(Opcode.binary, 64 * MiB));
    } catch {
      refused++;
    }
  });
  await Promise.all(opened.map(async (conn) => {
    for (let written = 0; written < perSocket && Date.now() < deadline; written += chunk.length) {
      const wrote = await Promise.race([
        conn.write(chunk).then(() => true, () => false),
        sleep(Math.max(0, deadline - Date.now())).then(() => false),
      ]);
      if (!wrote) return;
      sent += chunk.length;
    }
  }));
  await sleep(Math.max(0, deadline - Date.now()));
  const memory = sampler.stop();
  const health = await probe.stop();
  const open = opened.filter((conn) => !conn.isClosed).length;
  for (const conn of opened) conn.close();
  row.alive(target);
  addGrowth(row, idle, memory.peak, "≤ 64 MiB");
  addHealth(row, health, "≤ 100 ms");
  row.add(
    "sentMib",
    sent / MiB,
    `${opened.length} sockets from 16 addresses sent ${fixed(sent / MiB)} MiB of frame` +
      (refused ? ` (${refused} upgrades refused)` : ""),
  );
  row.add(
    "stillOpen",
    open,
    `still open after ${context.seconds} s: ${open} of ${opened.length}`,
    "0",
  );
}

/**
 * Signs a POST of an envelope whose body has the precomputed `digest` (so thousands of 1 MiB
 * bodies need one hash) and returns the request head.
 */
async function signedSendHead(
  options: { port: number; keys: CryptoKeyPair; vaultId: string; digest: string; size: number },
): Promise<string> {
  const url = new URL(`http://127.0.0.1:${options.port}/v3/vaults/${options.vaultId}/envelopes`);
  const headers = new Headers({
    "host": url.host,
    "x-vaultmesh-protocol": "3",
    "x-vaultmesh-device": "slow",
    "content-digest": options.digest,
  });
  const components = [...REQUIRED_COMPONENTS, "content-digest"];
  const params = serializeSignatureParams(components, {
    created: Math.floor(Date.now() / 1000),
    keyid: options.vaultId,
    alg: "ed25519",
    nonce: crypto.getRandomValues(new Uint8Array(16)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    }),
  });
  const base = signatureBase({ method: "POST", url, headers }, components, params);
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", options.keys.privateKey, new TextEncoder().encode(base)),
  );
  headers.set("signature-input", `sig1=${params}`);
  headers.set("signature", `sig1=:${signature.toBase64()}:`);
  headers.set("content-type", "application/octet-stream");
  headers.set("content-length", String(options.size));
  let head = `POST ${url.pathname} HTTP/1.1\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

/**
 * Correctly signed 1 MiB sends whose bodies trickle in: all but the last byte over most of the
 * window, the last byte never. From 64 addresses (64 each, the per-address in-flight limit).
 */
export async function slowBodies(context: AttackContext, row: Row): Promise<void> {
  const count = Math.ceil(4096 * context.scale);
  const addresses = Math.min(64, count);
  const size = MiB;
  await using dir = scratchDir();
  // The relay's descriptor budget as a service has it (the systemd unit passes the limit), not the
  // 1024 a relay run from source assumes: a small budget would refuse most of the bodies itself.
  const limit = openFileLimit();
  await using target = await startTarget({
    dir: dir.path,
    flags: limit === undefined ? [] : ["--max-open-files", String(limit)],
  });
  const idle = await settle(target);
  const digest = await contentDigest(new Uint8Array(size));
  const vaults = await Promise.all(Array.from({ length: addresses }, async () => {
    const keys = await generateVaultKeys();
    return { keys, vaultId: await vaultIdOfKeys(keys) };
  }));
  const heads = await Promise.all(
    Array.from(
      { length: count },
      (_, i) => signedSendHead({ port: target.port, ...vaults[i % addresses]!, digest, size }),
    ),
  );
  const probe = healthProbe(target.port);
  const sampler = memorySampler(target.pid);
  const started = Date.now();
  const deadline = started + context.seconds * 1000;
  const trickleMs = context.seconds * 1000 * 0.6;
  const chunks = 16;
  const chunk = new Uint8Array(size / chunks);
  const answers = new Map<string, number>();
  const conns: RawConn[] = [];
  let failed = 0;
  let sent = 0;
  const bodies: Promise<void>[] = [];
  await pool(heads, 256, async (head, i) => {
    let conn: RawConn;
    try {
      conn = await RawConn.connect({ port: target.port, localAddress: attackerAddress(i % 64) });
      await conn.write(head);
    } catch {
      failed++;
      return;
    }
    conns.push(conn);
    conn.read().then((first) => {
      const text = first ? new TextDecoder().decode(first) : "";
      const code = /"error":"([a-z_]+)"/.exec(text)?.[1];
      const status = first
        ? `${/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "other"}${code ? ` ${code}` : ""}`
        : "closed";
      answers.set(status, (answers.get(status) ?? 0) + 1);
    }, () => {});
    bodies.push((async () => {
      for (let k = 0; k < chunks && Date.now() < deadline && !conn.isClosed; k++) {
        const piece = k === chunks - 1 ? chunk.subarray(1) : chunk; // the last byte never comes
        if (!await conn.write(piece).then(() => true, () => false)) return;
        sent += piece.length;
        await sleep(Math.max(0, started + ((k + 1) * trickleMs) / chunks - Date.now()));
      }
    })());
  });
  await Promise.race([Promise.all(bodies), sleep(Math.max(0, deadline - Date.now()))]);
  await sleep(Math.max(0, deadline - Date.now()));
  const memory = sampler.stop();
  const health = await probe.stop();
  for (const conn of conns) conn.close();
  row.alive(target);
  addGrowth(row, idle, memory.peak, "≤ 64 MiB");
  addHealth(row, health, "≤ 100 ms");
  row.add(
    "sentMib",
    sent / MiB,
    `${conns.length} bodies from ${addresses} addresses sent ${fixed(sent / MiB)} MiB` +
      (failed ? ` (${failed} could not connect)` : ""),
  );
  const early = Object.fromEntries([...answers].sort());
  row.add(
    "answersBeforeEnd",
    early,
    `answered before the end: ${answers.size ? JSON.stringify(early) : "none"}`,
  );
}

/**
 * Header slowloris: connections that send their request one byte a second. How many the relay
 * still holds after the window.
 */
export async function slowloris(context: AttackContext, row: Row): Promise<void> {
  const count = Math.ceil(1000 * context.scale);
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path });
  const probe = healthProbe(target.port, { everyMs: 250 });
  const { conns, failed } = await openMany(target.port, count);
  const request = new TextEncoder().encode(
    `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nX-Slow: ${"a".repeat(200)}`,
  );
  for (let second = 0; second < context.seconds; second++) {
    for (const conn of conns) {
      if (!conn.isClosed) conn.write(request.subarray(second, second + 1)).catch(() => {});
    }
    await sleep(1000);
  }
  const open = conns.filter((conn) => !conn.isClosed).length;
  const health = await probe.stop();
  for (const conn of conns) conn.close();
  row.alive(target);
  row.add(
    "stillOpen",
    open,
    `still open after ${context.seconds} s: ${open} of ${conns.length}` +
      (failed ? ` (${failed} never connected)` : ""),
    "0",
  );
  addHealth(row, health, "answers");
}

/**
 * Malformed requests: the hand-written cases of issue 13 and a seeded fuzz corpus (random and
 * damaged signed requests, raw garbage), each case from its own address so the per-address rate
 * limit does not hide an answer. Counts 5xx answers and stack-trace lines in the relay's log.
 */
export async function malformed(context: AttackContext, row: Row): Promise<void> {
  const fuzzCount = Math.ceil(400 * context.scale);
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path });
  const logFrom = target.logLength();
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const statuses = new Map<string, number>();
  const serverErrors: string[] = [];
  const count = (name: string, status: number | undefined) => {
    const key = String(status ?? "no answer");
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    if (status !== undefined && status >= 500) serverErrors.push(`${name} → ${status}`);
  };
  const cases = malformedCases(target.port, vault);
  const handWritten: string[] = [];
  for (const [i, { name, request }] of cases.entries()) {
    const answer = await rawHttp({
      port: target.port,
      request,
      localAddress: attackerAddress(200 + i),
      timeoutMs: 3000,
    });
    count(name, answer.status);
    handWritten.push(`${name} ${answer.status ?? answer.failure}`);
  }
  const random = mulberry32(SEED);
  const corpus = await fuzzCorpus({ seed: SEED, count: fuzzCount, base: target.url, keys });
  const senders = Array.from({ length: 20 }, (_, i) => fetchFrom(attackerAddress(300 + i)));
  let refusedByFetch = 0;
  try {
    for (const [i, request] of corpus.entries()) {
      try {
        const response = await senders[i % senders.length]!.fetch(request.url, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.timeout(5000),
        });
        await response.body?.cancel();
        count(`fuzz ${i} ${request.method} ${request.url.pathname.slice(0, 40)}`, response.status);
      } catch (error) {
        if (error instanceof TypeError) refusedByFetch++;
        else count(`fuzz ${i}`, undefined);
      }
      if (i % 40 === 0) {
        const answer = await rawHttp({
          port: target.port,
          request: garbage(random),
          localAddress: attackerAddress(400 + i / 40),
          timeoutMs: 2000,
        });
        count(`garbage ${i / 40}`, answer.status);
      }
    }
  } finally {
    for (const sender of senders) sender.client.close();
  }
  await sleep(500); // let the last log lines arrive
  row.alive(target);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  row.add(
    "fiveXX",
    serverErrors.length,
    `5xx answers ${serverErrors.length} of ${total}` +
      (serverErrors.length
        ? ` [${serverErrors.slice(0, 8).join(", ")}${serverErrors.length > 8 ? ", …" : ""}]`
        : ""),
    "0",
  );
  const stackLines = target.stackTraceLines(logFrom);
  row.add("stackTraceLines", stackLines, `stack-trace lines in the log ${stackLines}`, "0");
  row.add("handWritten", handWritten, `hand-written: ${handWritten.join(", ")}`);
  row.add(
    "statuses",
    Object.fromEntries([...statuses].sort()),
    `${cases.length} hand-written cases + ${fuzzCount} fuzz requests (seed ${SEED}) + ${
      Math.ceil(fuzzCount / 40)
    } garbage; answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}` +
      (refusedByFetch ? `, ${refusedByFetch} refused by fetch itself` : ""),
  );
}

/** The fuzz corpus seed, the one `tests/fuzz_test.ts` uses by default. */
const SEED = 0x5eed_2026;
