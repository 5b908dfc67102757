import assert from "node:assert/strict";
import { Outbox, type OutboxLimits } from "./outbox.ts";
import { ManualClock } from "../clock.ts";
import { type DeviceSocket, fromWebSocket } from "./device_socket.ts";

const ROOMY: OutboxLimits = {
  highWaterBytes: 1024 * 1024,
  vaultQueueBytes: 1024 * 1024,
  minHighWaterBytes: 1024 * 1024,
  slowReaderMs: 1000,
};
/** Any unsent byte is above this mark. */
const TINY: OutboxLimits = {
  highWaterBytes: 1,
  vaultQueueBytes: 1,
  minHighWaterBytes: 1,
  slowReaderMs: 1000,
};

/**
 * A server on 127.0.0.1:0 that upgrades one request and hands over its side of the WebSocket
 * once open. Disposing closes both the socket and the server.
 */
class SocketServer implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #opened = Promise.withResolvers<DeviceSocket>();
  readonly #closed = Promise.withResolvers<void>();

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onopen = () => this.#opened.resolve(fromWebSocket(socket));
      socket.onclose = () => this.#closed.resolve();
      socket.onerror = () => {};
      return response;
    });
  }

  get port(): number {
    return this.#server.addr.port;
  }

  /** The server side of the upgraded socket. */
  socket(): Promise<DeviceSocket> {
    return this.#opened.promise;
  }

  /** Resolves once the server side of the socket has closed. */
  socketClosed(): Promise<void> {
    return this.#closed.promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** A browser-like client that reads everything it is sent. */
async function readingClient(port: number): Promise<WebSocket & AsyncDisposable> {
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  const closed = new Promise<void>((resolve) => client.addEventListener("close", () => resolve()));
  await new Promise((resolve, reject) => {
    client.onopen = resolve;
    client.onerror = reject;
  });
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      client.close();
      await closed;
    },
  });
}

/**
 * A client that completes the WebSocket handshake over raw TCP and then reads nothing until
 * told to drain, so the server's unsent bytes pile up.
 */
async function stalledClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  // Read the 101 answer one byte at a time, so no frame byte is consumed with it.
  let head = "";
  const byte = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(byte) === null) throw new Error("The server closed during the handshake");
    head += String.fromCharCode(byte[0]!);
  }
  assert.match(head, /^HTTP\/1\.1 101/);
  let draining: Promise<void> | undefined;
  return {
    /** Starts reading (and discarding) everything. */
    drain() {
      draining ??= (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          while (await conn.read(buffer) !== null) { /* discard */ }
        } catch { /* closed */ }
      })();
    },
    /** Hangs up, so the server's pending writes fail and its socket closes. */
    async close() {
      try {
        conn.close();
      } catch { /* already closed */ }
      await draining;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

/** Real milliseconds pass, so the outbox's poll runs a few times. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends more than the loopback connection can hold, so bytes stay queued on a stalled reader. */
function flood(outbox: Outbox): void {
  outbox.send(new Uint8Array(32 * 1024 * 1024));
}

Deno.test("an outbox's high-water mark is its share of the vault's queue budget, within bounds", () => {
  const limits = { ...ROOMY, highWaterBytes: 512, vaultQueueBytes: 2048, minHighWaterBytes: 64 };
  let readers = 1;
  const socket = { state: "open", bufferedAmount: 0 } as DeviceSocket;
  const outbox = new Outbox(socket, {
    limits,
    clock: new ManualClock(),
    sharedBy: () => readers,
    onStalled() {},
  });
  const marks = [1, 4, 8, 32, 64].map((count) => (readers = count, outbox.highWaterBytes));
  assert.deepEqual(marks, [512, 512, 256, 64, 64]);
});

Deno.test("a lagging reader whose share grows as other readers leave still stalls at its deadline", async () => {
  // 32 readers share 2048 bytes: a mark of 64 each; this one holds 100 unsent bytes.
  const limits = { ...ROOMY, highWaterBytes: 512, vaultQueueBytes: 2048, minHighWaterBytes: 64 };
  let readers = 32;
  const socket = { state: "open", bufferedAmount: 100 } as DeviceSocket;
  const clock = new ManualClock();
  let stalled = 0;
  const outbox = new Outbox(socket, {
    limits,
    clock,
    sharedBy: () => readers,
    onStalled: () => stalled++,
  });
  assert.equal(outbox.hasRoom, false);
  const waiting = outbox.whenRoom();
  readers = 1; // the others were cut: a share of 512 would fit its 100 bytes
  await pause(30);
  assert.equal(outbox.hasRoom, false, "held to the mark it fell behind at");
  clock.advance(limits.slowReaderMs + 1);
  await waiting;
  assert.equal(stalled, 1);
  outbox.close();
});

Deno.test("an outbox whose client reads nothing has no room, however little it queues, and stalls", async () => {
  const socket = { state: "open", bufferedAmount: 0 } as DeviceSocket;
  const clock = new ManualClock();
  let blocked = true;
  let stalled = 0;
  const outbox = new Outbox(socket, {
    limits: ROOMY,
    clock,
    clientBlocked: () => blocked,
    onStalled: () => stalled++,
  });
  assert.equal(outbox.hasRoom, false);
  const waiting = outbox.whenRoom();
  clock.advance(ROOMY.slowReaderMs + 1);
  await waiting;
  assert.equal(stalled, 1);
  blocked = false;
  assert.equal(outbox.hasRoom, true, "room again once the client reads");
  outbox.close();
});

Deno.test("a lagging reader that drains below the mark it fell behind at has room again", async () => {
  const limits = { ...ROOMY, highWaterBytes: 512, vaultQueueBytes: 2048, minHighWaterBytes: 64 };
  const socket = { state: "open", bufferedAmount: 100 } as {
    -readonly [K in keyof DeviceSocket]: DeviceSocket[K];
  };
  const clock = new ManualClock();
  let stalled = 0;
  const outbox = new Outbox(socket as DeviceSocket, {
    limits,
    clock,
    sharedBy: () => 32,
    onStalled: () => stalled++,
  });
  const waiting = outbox.whenRoom();
  socket.bufferedAmount = 64;
  await waiting;
  assert.equal(outbox.hasRoom, true);
  clock.advance(limits.slowReaderMs + 1);
  await pause(20);
  assert.equal(stalled, 0);
  outbox.close();
});

Deno.test("an outbox below its high-water mark sends frames and has room at once", async () => {
  await using server = new SocketServer();
  await using client = await readingClient(server.port);
  const received = new Promise<string>((resolve) => client.onmessage = (e) => resolve(e.data));
  const socket = await server.socket();
  const outbox = new Outbox(socket, { limits: ROOMY, clock: new ManualClock(), onStalled() {} });
  assert.equal(outbox.isOpen, true);
  assert.equal(outbox.hasRoom, true);
  assert.equal(outbox.send("hello"), true);
  assert.equal(await received, "hello");
  await outbox.whenRoom();
  outbox.close();
});

Deno.test("a closed outbox has no room, sends nothing and releases its waiters", async () => {
  await using server = new SocketServer();
  await using client = await stalledClient(server.port);
  const socket = await server.socket();
  let stalled = 0;
  const outbox = new Outbox(socket, {
    limits: TINY,
    clock: new ManualClock(),
    onStalled: () => stalled++,
  });
  flood(outbox);
  assert.equal(outbox.hasRoom, false);
  const waiting = outbox.whenRoom();
  outbox.close();
  await waiting;
  assert.equal(outbox.isOpen, false);
  assert.equal(outbox.hasRoom, false);
  assert.equal(outbox.send("late"), false);
  assert.equal(stalled, 0);
  await client.close();
  await server.socketClosed();
});

Deno.test("an outbox whose reader stays behind past slowReaderMs reports it stalled once", async () => {
  await using server = new SocketServer();
  await using client = await stalledClient(server.port);
  const socket = await server.socket();
  const clock = new ManualClock();
  let stalled = 0;
  const outbox = new Outbox(socket, { limits: TINY, clock, onStalled: () => stalled++ });
  flood(outbox);
  let released = false;
  const waiting = outbox.whenRoom().then(() => released = true);
  await pause(30);
  clock.advance(TINY.slowReaderMs);
  await pause(30);
  assert.equal(stalled, 0, "not yet: the deadline has only been reached");
  assert.equal(released, false);
  clock.advance(1);
  await waiting;
  assert.equal(stalled, 1);
  assert.ok(outbox.queuedBytes > 0, "the reader is still behind");
  outbox.close();
  await client.close();
  await server.socketClosed();
});

Deno.test("an outbox whose reader catches up before the deadline has room again", async () => {
  await using server = new SocketServer();
  await using client = await stalledClient(server.port);
  const socket = await server.socket();
  const clock = new ManualClock();
  let stalled = 0;
  const outbox = new Outbox(socket, { limits: TINY, clock, onStalled: () => stalled++ });
  flood(outbox);
  const waiting = outbox.whenRoom();
  await pause(20);
  client.drain();
  await waiting;
  assert.equal(outbox.hasRoom, true);
  assert.equal(outbox.queuedBytes, 0);
  clock.advance(TINY.slowReaderMs + 1);
  await pause(20);
  assert.equal(stalled, 0);
  outbox.close();
  await client.close();
  await server.socketClosed();
});

Deno.test("an outbox whose socket was closed by the peer has no room and never waits", async () => {
  await using server = new SocketServer();
  const client = await readingClient(server.port);
  const socket = await server.socket();
  const outbox = new Outbox(socket, { limits: ROOMY, clock: new ManualClock(), onStalled() {} });
  await client[Symbol.asyncDispose]();
  await server.socketClosed();
  assert.equal(outbox.isOpen, false);
  assert.equal(outbox.hasRoom, false);
  assert.equal(outbox.send("late"), false);
  await outbox.whenRoom();
  outbox.close();
});
