import assert from "node:assert/strict";
import {
  declaredBodyLength,
  PooledBuffer,
  pump,
  PumpBuffers,
  type WriteWatch,
} from "./tcp_proxy.ts";

/** A connected pair of loopback TCP connections. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return [client, server];
}

/** A pool that remembers the most it ever granted at once. */
class WatchedPool extends PumpBuffers {
  peak = 0;

  override take(bytes: number): boolean {
    const granted = super.take(bytes);
    this.peak = Math.max(this.peak, this.used);
    return granted;
  }
}

/** Pumps `bytes` from one pair to another through `pool`; returns what arrived. */
async function pumpThrough(bytes: Uint8Array<ArrayBuffer>, pool: WatchedPool) {
  const [source, from] = await pair();
  const [to, sink] = await pair();
  const copied = pump(from, to, pool);
  const written = source.write(bytes).then(() => source.closeWrite());
  const received = new Response(sink.readable).bytes();
  await Promise.all([copied, written]);
  const arrived = await received;
  for (const conn of [source, from, to]) conn.close();
  return { arrived, peak: pool.peak };
}

const MESSAGE = new Uint8Array(512 * 1024).map((_, i) => i % 251);

Deno.test("a pump copies every byte, growing its buffer within the pool, and gives it all back", async () => {
  const pool = new WatchedPool(1024 * 1024);
  const { arrived, peak } = await pumpThrough(MESSAGE, pool);
  assert.deepEqual(arrived, MESSAGE);
  assert.ok(peak > 0 && peak <= pool.limit, `grew by ${peak}`);
  assert.equal(pool.used, 0);
});

Deno.test("a pump whose pool is spent copies every byte with its smallest buffer", async () => {
  const pool = new WatchedPool(0);
  const { arrived, peak } = await pumpThrough(MESSAGE, pool);
  assert.deepEqual(arrived, MESSAGE);
  assert.equal(peak, 0);
  assert.equal(pool.used, 0);
});

Deno.test("pump buffers grant growth up to their limit and take it back", () => {
  const pool = new PumpBuffers(3000);
  assert.equal(pool.take(2048), true);
  assert.equal(pool.take(2048), false, "beyond the limit");
  pool.give(2048);
  assert.equal(pool.take(3000), true);
  assert.equal(pool.used, 3000);
});

Deno.test("a pooled buffer doubles after full reads while the pool grants it, halves after small ones", () => {
  const pool = new PumpBuffers(3072);
  const buffer = new PooledBuffer(pool, { min: 1024, max: 8192 });
  buffer.read(1024);
  buffer.read(2048);
  assert.equal(buffer.bytes.length, 4096);
  assert.equal(pool.used, 3072);
  buffer.read(4096);
  assert.equal(buffer.bytes.length, 4096, "the pool has nothing more to grant");
  buffer.read(100);
  assert.equal(buffer.bytes.length, 2048);
  assert.equal(pool.used, 1024);
  buffer.release();
  assert.equal(pool.used, 0);
});

Deno.test("a pump told to stop passes on nothing more and leaves the rest unread", async () => {
  const [source, from] = await pair();
  const [to, sink] = await pair();
  let stop = false;
  const copied = pump(from, to, new PumpBuffers(0), { stopped: () => stop });
  const reader = sink.readable.getReader();
  await source.write(new Uint8Array([1, 2, 3]));
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  stop = true;
  await source.write(new Uint8Array([4, 5, 6]));
  await source.closeWrite(); // a pump that ignored the stop would copy 4, 5, 6 and end the stream
  await copied;
  to.close(); // the copy did not end the stream: the sink sees only what came before the stop
  assert.equal((await reader.read()).done, true);
  for (const conn of [source, from]) conn.close();
});

const head = (...lines: string[]) =>
  new TextEncoder().encode(["POST /x HTTP/1.1", "host: relay", ...lines, "", ""].join("\r\n"));

Deno.test("the body length a request head declares", () => {
  assert.equal(declaredBodyLength(head("content-length: 1048576")), 1048576);
  assert.equal(declaredBodyLength(head("Content-Length:  12 ")), 12, "any case, spaces");
  assert.equal(declaredBodyLength(head()), 0, "no body");
  assert.equal(declaredBodyLength(head("transfer-encoding: chunked")), 0, "length not known");
  assert.equal(declaredBodyLength(head("content-length: 1e6")), undefined);
  assert.equal(declaredBodyLength(head("content-length: -1")), undefined);
  assert.equal(
    declaredBodyLength(head("x-content-length: 5")),
    0,
    "another header's name ending the same",
  );
});

Deno.test("a pump's watch shows a write waiting on a destination that reads nothing, until it reads", async () => {
  const [source, from] = await pair();
  const [to, sink] = await pair();
  const watch: WriteWatch = { waitingSince: undefined };
  const copied = pump(from, to, new PumpBuffers(1024 * 1024), { watch });
  // More than loopback buffers hold: the pump's write to `to` waits for room.
  const bytes = new Uint8Array(64 * 1024 * 1024);
  const written = (async () => {
    for (let done = 0; done < bytes.length;) done += await source.write(bytes.subarray(done));
    await source.closeWrite();
  })();
  const waitedLong = () =>
    watch.waitingSince !== undefined && Date.now() - watch.waitingSince >= 200;
  for (const giveUp = Date.now() + 10_000; !waitedLong() && Date.now() < giveUp;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(waitedLong(), "a write has waited 200 ms for the destination to read");
  const received = new Response(sink.readable).bytes(); // the destination reads at last
  await Promise.all([copied, written]);
  assert.equal((await received).length, 64 * 1024 * 1024);
  assert.equal(watch.waitingSince, undefined, "no write waits once everything is copied");
  for (const conn of [source, from, to]) conn.close();
});
