/**
 * The connection gate in front of the relay: idle and half-sent connections are closed, a full
 * descriptor budget still lets an honest client in, an ignored socket close is torn down, and
 * running out of descriptors does not end the process.
 */
import assert from "node:assert/strict";
import type { Limits } from "../lib/limits.ts";
import { generateVaultKeys, signRequest, vaultIdOfKeys } from "../lib/client/mod.ts";
import { PROTOCOL_3, spawnTestRelay, startRelay, tempDir, vaultDevices } from "./_helpers.ts";

function withConnections(changes: Partial<Limits["connections"]>) {
  return (limits: Limits): Limits => ({
    ...limits,
    connections: { ...limits.connections, ...changes },
  });
}

async function connect(url: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  return await Deno.connect({ hostname, port: Number(port) });
}

/** Resolves true once the server closed `conn` (a read ends), false if it stays open. */
async function closedWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (Date.now() < deadline) {
      if (await conn.read(buffer) === null) return true;
    }
    return false;
  } catch {
    return Date.now() < deadline;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

Deno.test("connections that never send a request head are closed at the head deadline", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ headerTimeoutMs: 400 }),
  });
  const idle = await Promise.all(Array.from({ length: 20 }, () => connect(relay.url)));
  const slow = await connect(relay.url);
  const trickle = setInterval(() => slow.write(new TextEncoder().encode("G")).catch(() => {}), 50);
  const results = await Promise.all([...idle, slow].map((conn) => closedWithin(conn, 5000)));
  clearInterval(trickle);
  assert.deepEqual(results.filter((closed) => !closed), [], "every one was closed");
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200, "a client that sends its request is served");
  await health.body?.cancel();
});

Deno.test("at the descriptor budget the oldest waiting connection makes room for a new client", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ httpFds: 20 }),
  });
  const idle = await Promise.all(Array.from({ length: 40 }, () => connect(relay.url)));
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const closed = await Promise.all(idle.map((conn) => closedWithin(conn, 300)));
  assert.ok(closed.filter(Boolean).length >= 20, "the oldest idle connections were dropped");
});

Deno.test("at the descriptor budget an address holding the most connections makes room for another address", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ httpFds: 30 }),
  });
  const [device] = await vaultDevices(relay.url, ["laptop"]);
  // Ten long polls from 127.0.0.1 hold all 30 descriptors (3 each): nothing is waiting.
  const polls = Array.from({ length: 10 }, () => device!.backlog({ wait: 5 }).catch(() => "cut"));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const client = Deno.createHttpClient({ localAddress: "127.0.0.2" });
  try {
    const health = await fetch(`${relay.url}/health`, { client });
    assert.equal(health.status, 200, "another address gets in");
    await health.body?.cancel();
  } finally {
    client.close();
  }
  assert.ok(
    (await Promise.all(polls)).includes("cut"),
    "a long poll of the crowded address made room",
  );
});

Deno.test("a socket whose peer ignores the relay's close is torn down at the TCP level", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
  }, {
    adjustLimits: (limits) => ({
      ...withConnections({ socketTeardownMs: 300 })(limits),
      socket: { ...limits.socket, authTimeoutMs: 300 },
    }),
  });
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const conn = await connect(relay.url);
  const upgrade = `GET /v3/vaults/${laptop!.vaultId}/socket?device=laptop HTTP/1.1\r\n` +
    `host: ${new URL(relay.url).host}\r\nx-vaultmesh-protocol: 3\r\nupgrade: websocket\r\n` +
    "connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "sec-websocket-version: 13\r\n\r\n";
  await conn.write(new TextEncoder().encode(upgrade));
  // Never answers the challenge, never answers the close frame that follows at 300 ms.
  const started = Date.now();
  assert.ok(await closedWithin(conn, 5000), "the relay closed the connection");
  assert.ok(Date.now() - started < 4000);
});

Deno.test({
  name: "a relay out of file descriptors keeps running and answers a fresh client" +
    (await hasPrlimit() ? "" : " (skipped: prlimit from util-linux is not installed)"),
  ignore: !await hasPrlimit(),
  async fn() {
    using dir = tempDir();
    await using relay = await spawnTestRelay(dir.path, [
      "--rate-limit-ip",
      "0",
    ]);
    // The relay assumed 1024 open files (it cannot read its limit without --allow-all); lower
    // the real limit under it, so accept fails with "too many open files".
    const prlimit = new Deno.Command("prlimit", {
      args: ["--pid", String(relay.child.pid), "--nofile=256:256"],
    });
    assert.equal((await prlimit.output()).code, 0);
    const idle: Deno.TcpConn[] = [];
    for (let i = 0; i < 300; i++) idle.push(await connect(relay.url));
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      try {
        const response = await fetch(`${relay.url}/health`, { signal: AbortSignal.timeout(1000) });
        status = response.status;
        await response.body?.cancel();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.equal(status, 200, "a fresh client is answered");
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // Closed by the relay to make room.
      }
    }
    const exit = await relay.stop("SIGTERM");
    assert.equal(exit.code, 0, relay.lines.join("\n"));
  },
});

async function hasPrlimit(): Promise<boolean> {
  try {
    return (await new Deno.Command("prlimit", { args: ["--version"] }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("a request refused before its body is read gets its answer, then its connection is closed", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ closeAfterRefusalMs: 200 }),
  });
  // A signed send that declares 2 MiB, over the 1 MiB envelope limit: 413 without reading it.
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vault}/envelopes`, relay.url);
  const body = new Uint8Array(2 * 1024 * 1024);
  const headers = new Headers({ ...PROTOCOL_3, "x-vaultmesh-device": "big" });
  await signRequest({ method: "POST", url, headers, body }, {
    privateKey: keys.privateKey,
    keyid: vault,
  });
  const head = [`POST ${url.pathname} HTTP/1.1`, `host: ${url.host}`]
    .concat([...headers].map(([name, value]) => `${name}: ${value}`))
    .concat([`content-length: ${body.byteLength}`, "", ""]).join("\r\n");
  const conn = await connect(relay.url);
  await conn.write(new TextEncoder().encode(head));
  // The client keeps sending its body, a chunk every 50 ms, as a flood of slow bodies does.
  const chunk = new Uint8Array(16 * 1024);
  const trickle = setInterval(() => conn.write(chunk).catch(() => {}), 50);
  try {
    const buffer = new Uint8Array(4096);
    const first = await conn.read(buffer);
    const answer = new TextDecoder().decode(buffer.subarray(0, first ?? 0));
    assert.match(answer, /^HTTP\/1\.1 413 /, "the answer arrives first");
    assert.match(answer, /connection: close/i);
    assert.equal(await closedWithin(conn, 5000), true, "then the relay closes the connection");
  } finally {
    clearInterval(trickle);
  }
});

Deno.test("a body the memory budget cannot hold is refused at the gate, before anything reads it", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
  }, {
    adjustLimits: (limits) => ({
      ...withConnections({ closeAfterRefusalMs: 200 })(limits),
      memory: { ...limits.memory, requestBytes: 1000, requestBytesPerAddress: 250 },
    }),
  });
  const url = new URL(`/v3/vaults/${"A".repeat(43)}/envelopes`, relay.url);
  const conn = await connect(relay.url);
  const head = `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: 4096\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  const buffer = new Uint8Array(4096);
  const answer = new TextDecoder().decode(buffer.subarray(0, await conn.read(buffer) ?? 0));
  const [top, body] = answer.split("\r\n\r\n");
  assert.match(top!, /^HTTP\/1\.1 503 /);
  assert.match(top!, /\r\nretry-after: 1\r\n/i);
  assert.match(top!, /\r\nconnection: close\r\n/i);
  assert.match(top!, /\r\ncontent-type: application\/json/i);
  assert.equal(JSON.parse(body!).error, "busy");
  assert.equal(await closedWithin(conn, 5000), true, "then the relay closes the connection");
  const health = await fetch(new URL("/health", relay.url));
  assert.equal(health.status, 200, "other requests are still answered");
  await health.body?.cancel();
  const metrics = await fetch(`http://127.0.0.1:${relay.metricsAddress!.port}/metrics`);
  assert.match(await metrics.text(), /vaultmesh_relay_rate_limited_total\{limit="memory"\} 1\b/);
});

Deno.test("a socket the gate speaks itself holds one descriptor, and an upgrade after other requests still works", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const first = await laptop!.connect({});
  const second = await phone!.connect({});
  assert.deepEqual(
    { connections: relay.tableSizes().connections, fds: relay.tableSizes().connectionFds },
    { connections: 2, fds: 2 },
  );

  // On a connection that served a request first, the upgrade goes through Deno.serve.
  const conn = await connect(relay.url);
  const host = new URL(relay.url).host;
  const path = `/v3/vaults/${laptop!.vaultId}/socket?device=laptop`;
  await conn.write(new TextEncoder().encode(
    `GET /health HTTP/1.1\r\nhost: ${host}\r\n\r\n` +
      `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nx-vaultmesh-protocol: 3\r\n` +
      "upgrade: websocket\r\nconnection: Upgrade\r\n" +
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
  ));
  let answers = "";
  const buffer = new Uint8Array(4096);
  while (!answers.includes('"challenge"')) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error(`closed after: ${answers}`);
    answers += new TextDecoder("latin1").decode(buffer.subarray(0, count));
  }
  assert.match(answers, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 101 /);
  assert.equal(relay.tableSizes().connectionFds, 2 + 3, "the hop costs 3");
  conn.close();
  await Promise.all([first.close(), second.close()]);
});

Deno.test("a first socket frame longer than an auth message is refused with 1009 before its payload arrives", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
  });
  const [laptop] = await vaultDevices(relay.url, ["laptop"]);
  const conn = await connect(relay.url);
  const path = `/v3/vaults/${laptop!.vaultId}/socket?device=laptop`;
  await conn.write(new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nhost: ${new URL(relay.url).host}\r\nx-vaultmesh-protocol: 3\r\n` +
      "upgrade: websocket\r\n" +
      "connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "sec-websocket-version: 13\r\n\r\n",
  ));
  // The head of a masked 1 MiB binary frame, and none of its payload.
  await conn.write(new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4]));
  let received = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) break;
    received = new Uint8Array([...received, ...buffer.subarray(0, count)]);
  }
  // The challenge's text frame, then a close frame with 1009, then the end of the connection.
  const close = received.lastIndexOf(0x88);
  assert.ok(close > 0, "a close frame came");
  assert.equal((received[close + 2]! << 8) | received[close + 3]!, 1009);
  conn.close();
  const metrics = await fetch(`http://127.0.0.1:${relay.metricsAddress!.port}/metrics`);
  assert.match(
    await metrics.text(),
    /vaultmesh_relay_rate_limited_total\{limit="socket_message"\} 1\b/,
  );
});

/** Reads from `conn` until `done(text so far)` holds; throws if the connection ends first. */
async function readUntil(conn: Deno.TcpConn, done: (text: string) => boolean): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(65536);
  while (!done(text)) {
    const count = await conn.read(buffer);
    if (count === null) throw new Error(`closed after: ${text}`);
    text += new TextDecoder("latin1").decode(buffer.subarray(0, count));
  }
  return text;
}

const answerCount = (text: string) => text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;

Deno.test("the gate answers plain requests itself, one after another on a keep-alive connection, for one descriptor", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ answerPlainRequests: true }),
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vault}/envelopes`, relay.url);
  const headers = new Headers({ ...PROTOCOL_3, "x-vaultmesh-device": "laptop" });
  const body = new Uint8Array(3000).fill(7);
  await signRequest({ method: "POST", url, headers, body }, {
    privateKey: keys.privateKey,
    keyid: vault,
  });
  let head =
    `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: ${body.length}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  const conn = await connect(relay.url);
  try {
    // The body in two pieces, a pipelined /health right behind it.
    await conn.write(new TextEncoder().encode(`${head}\r\n`));
    await conn.write(body.subarray(0, 1000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const rest = new TextEncoder().encode(`GET /health HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
    const tail = new Uint8Array(2000 + rest.length);
    tail.set(body.subarray(1000));
    tail.set(rest, 2000);
    await conn.write(tail);
    const answers = await readUntil(conn, (text) => answerCount(text) === 2 && text.endsWith("}"));
    assert.match(
      answers,
      /^HTTP\/1\.1 20\d [\s\S]*"seq":1[\s\S]*HTTP\/1\.1 200 [\s\S]*"status":"ok"/,
      JSON.stringify(answers),
    );
    assert.doesNotMatch(answers, /connection: close/i);
    assert.deepEqual(
      { connections: relay.tableSizes().connections, fds: relay.tableSizes().connectionFds },
      { connections: 1, fds: 1 },
      "no loopback hop",
    );
    // The same connection serves the next request.
    await conn.write(
      new TextEncoder().encode(`HEAD /health HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`),
    );
    const third = await readUntil(conn, (text) => text.endsWith("\r\n\r\n"));
    assert.match(third, /^HTTP\/1\.1 200 [\s\S]*content-length: \d+\r\n\r\n$/);
  } finally {
    conn.close();
  }
});

Deno.test("a request the gate does not answer itself (a chunked body) still gets its answer from the HTTP server", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ answerPlainRequests: true }),
  });
  const conn = await connect(relay.url);
  const host = new URL(relay.url).host;
  try {
    await conn.write(new TextEncoder().encode(
      `GET /health HTTP/1.1\r\nhost: ${host}\r\n\r\n` +
        `POST /v3/vaults/${"A".repeat(43)}/envelopes HTTP/1.1\r\nhost: ${host}\r\n` +
        "x-vaultmesh-protocol: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ));
    const answers = await readUntil(conn, (text) => answerCount(text) === 2 && text.endsWith("}"));
    // Refused by the router, through the hop (the HTTP server's status line has its reason).
    assert.match(answers, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 400 Bad Request[\s\S]*"bad_vault_id"/);
    assert.equal(relay.tableSizes().connectionFds, 3, "the hop costs 3");
  } finally {
    conn.close();
  }
});

Deno.test("a long poll whose client leaves ends at once, and an idle keep-alive connection gets the head deadline", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {}, {
    adjustLimits: withConnections({ headerTimeoutMs: 500, answerPlainRequests: true }),
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vault}/envelopes?wait=20`, relay.url);
  const headers = new Headers({ ...PROTOCOL_3, "x-vaultmesh-device": "reader" });
  await signRequest({ method: "GET", url, headers }, { privateKey: keys.privateKey, keyid: vault });
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  const polling = await connect(relay.url);
  await polling.write(new TextEncoder().encode(`${head}\r\n`));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(relay.operations.longPolls.size, 1);
  polling.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(relay.operations.longPolls.size, 0, "the poll's slot is free again");

  const conn = await connect(relay.url);
  await conn.write(
    new TextEncoder().encode(`GET /health HTTP/1.1\r\nhost: ${new URL(relay.url).host}\r\n\r\n`),
  );
  await readUntil(conn, (text) => text.endsWith("}"));
  assert.equal(await closedWithin(conn, 3000), true, "closed after the idle deadline");
});
