import assert from "node:assert/strict";
import {
  acceptKey,
  closePayload,
  OPCODE,
  type RawSocketLimits,
  RawWebSocket,
  type SocketRefusal,
} from "./raw_websocket.ts";
import { PumpBuffers, readHead, type WriteWatch } from "./tcp_proxy.ts";
import { readUpgradeRequest, switchingProtocols } from "./upgrade_head.ts";

const LIMITS = {
  unauthenticatedMessageBytes: 4096,
  messageBytes: 256 * 1024,
  queuedBytes: 64 * 1024 * 1024,
};

/** A server on 127.0.0.1:0 that upgrades one connection to a RawWebSocket and records it. */
class OneSocketServer implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly messages: (ArrayBuffer | string)[] = [];
  readonly watch: WriteWatch = { waitingSince: undefined };
  readonly opened = Promise.withResolvers<RawWebSocket>();
  readonly closed = Promise.withResolvers<void>();
  readonly refusals: SocketRefusal[] = [];
  #arrived = Promise.withResolvers<void>();

  constructor(private readonly limits: RawSocketLimits = LIMITS) {
    void this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Resolves once `count` messages have arrived in all. */
  async received(count: number): Promise<(ArrayBuffer | string)[]> {
    const ended = this.closed.promise.then(() => {
      throw new Error(`the socket closed after ${this.messages.length} of ${count} messages`);
    });
    while (this.messages.length < count) await Promise.race([this.#arrived.promise, ended]);
    ended.catch(() => {});
    return this.messages;
  }

  async #accept(): Promise<void> {
    const conn = await this.#listener.accept();
    const head = await readHead(conn, 16384);
    const upgrade = readUpgradeRequest(head!)!;
    const socket = new RawWebSocket(conn, {
      limits: this.limits,
      pool: new PumpBuffers(1024 * 1024),
      watch: this.watch,
      leftover: upgrade.rest,
      onRefused: (refusal) => this.refusals.push(refusal),
    });
    socket.listen({
      open: () => this.opened.resolve(socket),
      message: (data) => {
        this.messages.push(data);
        this.#arrived.resolve();
        this.#arrived = Promise.withResolvers();
      },
      closed: () => this.closed.resolve(),
    });
    const key = upgrade.request.headers.get("sec-websocket-key")!;
    await conn.write(switchingProtocols(acceptKey(key), undefined));
    socket.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    const socket = await Promise.race([this.opened.promise, Promise.resolve(undefined)]);
    socket?.close(1000, "");
  }
}

/** A client frame: masked, FIN set unless `final` is false. */
function clientFrame(
  opcode: number,
  payload: Uint8Array,
  { final = true, masked = true, rsv = 0 } = {},
): Uint8Array {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + extended + (masked ? 4 : 0) + length);
  frame[0] = (final ? 0x80 : 0) | rsv | opcode;
  frame[1] = (masked ? 0x80 : 0) | (extended === 0 ? length : extended === 2 ? 126 : 127);
  const view = new DataView(frame.buffer);
  if (extended === 2) view.setUint16(2, length);
  if (extended === 8) view.setUint32(6, length);
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const at = 2 + extended;
  if (masked) frame.set(mask, at);
  const start = at + (masked ? 4 : 0);
  for (let i = 0; i < length; i++) frame[start + i] = payload[i]! ^ (masked ? mask[i % 4]! : 0);
  return frame;
}

/** A raw TCP client that has completed the handshake with `port`. */
async function rawClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      "GET /socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  let received = new Uint8Array(0);
  const more = async () => {
    const buffer = new Uint8Array(65536);
    const count = await conn.read(buffer);
    if (count === null) return false;
    const joined = new Uint8Array(received.length + count);
    joined.set(received);
    joined.set(buffer.subarray(0, count), received.length);
    received = joined;
    return true;
  };
  while (!new TextDecoder().decode(received).includes("\r\n\r\n")) {
    if (!await more()) throw new Error("closed during the handshake");
  }
  const head = new TextDecoder().decode(received);
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  received = received.subarray(head.indexOf("\r\n\r\n") + 4);
  return {
    conn,
    /** Writes `bytes` in pieces of `piece` bytes. */
    async write(bytes: Uint8Array, piece = bytes.length) {
      for (let at = 0; at < bytes.length;) {
        at += await conn.write(bytes.subarray(at, Math.min(at + piece, bytes.length)));
      }
    },
    /** The next frame from the server (it never masks), or undefined once it closed. */
    async frame(): Promise<{ opcode: number; payload: Uint8Array } | undefined> {
      while (true) {
        if (received.length >= 2) {
          const short = received[1]! & 0x7f;
          const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
          const view = new DataView(received.buffer, received.byteOffset);
          const length = extended === 0
            ? short
            : extended === 2
            ? view.getUint16(2)
            : view.getUint32(6);
          const end = 2 + extended + length;
          if (received.length >= end) {
            const frame = {
              opcode: received[0]! & 0x0f,
              payload: received.slice(2 + extended, end),
            };
            received = received.subarray(end);
            return frame;
          }
        }
        if (!await more().catch(() => false)) return undefined;
      }
    },
  };
}

function closeCode(frame: { opcode: number; payload: Uint8Array } | undefined): number {
  assert.equal(frame?.opcode, OPCODE.close, "a close frame");
  return (frame!.payload[0]! << 8) | frame!.payload[1]!;
}

Deno.test("messages arrive whole however the client's bytes are split, fragmented or not, with pings between", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  (await server.opened.promise).authenticated();
  const large = new Uint8Array(70_000).map((_, i) => i * 7);
  const bytes = (text: string) => new TextEncoder().encode(text);
  const stream = [
    clientFrame(OPCODE.text, bytes("héllo")),
    clientFrame(OPCODE.binary, large),
    clientFrame(OPCODE.text, bytes("frag"), { final: false }),
    clientFrame(OPCODE.ping, bytes("are you there")),
    clientFrame(OPCODE.continuation, bytes("men"), { final: false }),
    clientFrame(OPCODE.continuation, bytes("ted")),
    clientFrame(OPCODE.binary, new Uint8Array(0)),
  ];
  const joined = new Uint8Array(stream.reduce((sum, frame) => sum + frame.length, 0));
  stream.reduce((at, frame) => (joined.set(frame, at), at + frame.length), 0);
  await client.write(joined, 997);

  const messages = await server.received(4);
  assert.equal(messages[0], "héllo");
  assert.deepEqual(new Uint8Array(messages[1] as ArrayBuffer), large);
  assert.equal(messages[2], "fragmented");
  assert.equal((messages[3] as ArrayBuffer).byteLength, 0);
  const pong = await client.frame();
  assert.equal(pong?.opcode, OPCODE.pong);
  assert.equal(new TextDecoder().decode(pong!.payload), "are you there");
  client.conn.close();
  await server.closed.promise;
});

Deno.test("a standard WebSocket client and the server exchange frames of every length and close cleanly", async () => {
  await using server = new OneSocketServer();
  const client = new WebSocket(`ws://127.0.0.1:${server.port}/socket`);
  client.binaryType = "arraybuffer";
  const got: (ArrayBuffer | string)[] = [];
  const closed = Promise.withResolvers<CloseEvent>();
  client.onmessage = (event) => got.push(event.data);
  client.onclose = (event) => closed.resolve(event);
  const socket = await server.opened.promise;
  // Around the head's sizes, and around the size from which a payload is queued as it is (4096).
  const sizes = [0, 125, 126, 4095, 4096, 4097, 60_000, 65535, 65536, 200_000];
  for (const size of sizes) socket.send(new Uint8Array(size).fill(size % 251));
  socket.send("text ✓");
  client.onopen = () => client.send("from the client");
  // A frame the client cannot parse stalls it (or closes it): fail then, not hang.
  const deadline = Date.now() + 10_000;
  while (got.length < sizes.length + 1) {
    assert.ok(Date.now() < deadline, `${got.length} of ${sizes.length + 1} messages arrived`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  sizes.forEach((size, i) => {
    const data = new Uint8Array(got[i] as ArrayBuffer);
    assert.equal(data.length, size);
    assert.ok(data.every((byte) => byte === size % 251));
  });
  assert.equal(got[sizes.length], "text ✓");
  assert.deepEqual(await server.received(1), ["from the client"]);
  assert.equal(socket.bufferedAmount, 0, "everything queued was written");

  client.close(1000, "bye");
  assert.equal((await closed.promise).code, 1000);
  await server.closed.promise;
  assert.equal(socket.state, "closed");
});

Deno.test("a frame longer than the message limit is refused from its head, before its payload arrives", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  await server.opened.promise;
  // The head of a 1 MiB binary frame (with its mask), and nothing of its payload.
  const head = clientFrame(OPCODE.binary, new Uint8Array(1024 * 1024)).subarray(0, 14);
  await client.write(head);
  assert.equal(closeCode(await client.frame()), 1009);
  assert.equal(await client.frame(), undefined, "then the server closed the connection");
  await server.closed.promise;
  assert.deepEqual(server.refusals, ["socket_message"]);
});

Deno.test("a client that keeps pinging and reads nothing is dropped once its unsent bytes reach the bound", async () => {
  // More than the pongs to one read of pings (64 KiB), so only a client that reads nothing gets here.
  const queuedBytes = 256 * 1024;
  await using server = new OneSocketServer({ ...LIMITS, queuedBytes });
  const client = await rawClient(server.port);
  const socket = await server.opened.promise;
  let largest = 0;
  const sampling = setInterval(() => largest = Math.max(largest, socket.bufferedAmount), 1);
  const ping = clientFrame(OPCODE.ping, new Uint8Array(125));
  const pings = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) pings.set(ping, i * ping.length);
  // Pongs pile up once the kernel's buffers toward the client are full (a few MiB on loopback).
  let sent = 0;
  while (socket.state === "open" && sent < 200) {
    await client.write(pings).catch(() => {});
    sent++;
  }
  const dropped = await Promise.race([
    server.closed.promise.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  clearInterval(sampling);
  assert.ok(dropped, `still open after ${sent} writes of 1000 pings`);
  assert.deepEqual(server.refusals, ["socket_queue"]);
  assert.ok(largest <= queuedBytes, `${largest} bytes were queued`);
  client.conn.close();
});

Deno.test("an authenticated socket takes messages up to the larger limit", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  const socket = await server.opened.promise;
  await client.write(clientFrame(OPCODE.text, new Uint8Array(4096).fill(0x61)));
  await server.received(1);
  socket.authenticated();
  await client.write(clientFrame(OPCODE.binary, new Uint8Array(100_000)));
  assert.equal(((await server.received(2))[1] as ArrayBuffer).byteLength, 100_000);
  await client.write(clientFrame(OPCODE.binary, new Uint8Array(LIMITS.messageBytes + 1)));
  assert.equal(closeCode(await client.frame()), 1009);
});

for (
  const [name, frame, code] of [
    ["an unmasked frame", clientFrame(OPCODE.text, new Uint8Array(3), { masked: false }), 1002],
    ["a compressed (RSV1) frame", clientFrame(OPCODE.text, new Uint8Array(3), { rsv: 0x40 }), 1002],
    ["an unknown opcode", clientFrame(0x3, new Uint8Array(3)), 1002],
    ["a continuation without a message", clientFrame(OPCODE.continuation, new Uint8Array(3)), 1002],
    ["a fragmented ping", clientFrame(OPCODE.ping, new Uint8Array(3), { final: false }), 1002],
    ["a ping of 126 bytes", clientFrame(OPCODE.ping, new Uint8Array(126)), 1002],
    ["text that is not UTF-8", clientFrame(OPCODE.text, new Uint8Array([0xc3, 0x28])), 1007],
    ["a close with code 1005", clientFrame(OPCODE.close, new Uint8Array([0x03, 0xed])), 1002],
  ] as const
) {
  Deno.test(`${name} closes the socket with ${code} and ends the connection`, async () => {
    await using server = new OneSocketServer();
    const client = await rawClient(server.port);
    await server.opened.promise;
    await client.write(frame);
    assert.equal(closeCode(await client.frame()), code);
    assert.equal(await client.frame(), undefined);
    await server.closed.promise;
    assert.deepEqual(server.messages, []);
  });
}

Deno.test("the server's close is answered by the client's, then the connection ends", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  const socket = await server.opened.promise;
  socket.close(4009, "slow reader");
  const frame = await client.frame();
  assert.equal(closeCode(frame), 4009);
  assert.equal(new TextDecoder().decode(frame!.payload.subarray(2)), "slow reader");
  assert.equal(socket.state, "closing");
  socket.send("dropped: the socket is closing");
  await client.write(clientFrame(OPCODE.close, frame!.payload.subarray(0, 2)));
  await server.closed.promise;
  assert.equal(await client.frame(), undefined);
});

Deno.test("a client's close is echoed and the server ends the connection", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  await server.opened.promise;
  await client.write(clientFrame(OPCODE.close, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65])));
  assert.equal(closeCode(await client.frame()), 1000);
  assert.equal(await client.frame(), undefined);
  await server.closed.promise;
});

Deno.test("frames queued for a client that reads nothing are counted, and the write shows it waits", async () => {
  await using server = new OneSocketServer();
  const client = await rawClient(server.port);
  const socket = await server.opened.promise;
  for (let i = 0; i < 512; i++) socket.send(new Uint8Array(64 * 1024));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(socket.bufferedAmount > 0, "bytes stay queued behind the full connection");
  assert.ok(server.watch.waitingSince !== undefined, "a write is waiting for room");
  client.conn.close();
  await server.closed.promise;
  assert.equal(socket.bufferedAmount, 0, "a closed socket holds nothing");
});

Deno.test("a close reason is cut to 123 bytes between characters, never inside one", () => {
  const payload = closePayload(4002, "é".repeat(100));
  assert.equal(payload.length, 2 + 122);
  assert.equal(
    new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2)),
    "é".repeat(61),
  );
  assert.deepEqual([...closePayload(4009, "slow").subarray(0, 2)], [0x0f, 0xa9]);
  assert.equal(closePayload(undefined).length, 0);
});

Deno.test("a frame sent in the same segment as the upgrade request is read after the handshake", async () => {
  await using server = new OneSocketServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const head = new TextEncoder().encode(
    "GET /socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const frame = clientFrame(OPCODE.text, new TextEncoder().encode("early"));
  await conn.write(new Uint8Array([...head, ...frame]));
  assert.deepEqual(await server.received(1), ["early"]);
  conn.close();
  await server.closed.promise;
});
