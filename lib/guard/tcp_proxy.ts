/**
 * The byte-level half of the connection gate: reading a request head off a TCP connection, and
 * copying bytes between two connections.
 *
 * @module
 */

const HEAD_END = [13, 10, 13, 10];

/** The offset just after the blank line ending a request head, searched from `from`; -1 if none. */
export function indexOfHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < bytes.length; i++) {
    if (HEAD_END.every((byte, j) => bytes[i + j] === byte)) return i + 4;
  }
  return -1;
}

/**
 * The body length a request head declares with `Content-Length` (0 without one, as for a chunked
 * body, whose length is not known up front), or undefined when the value is not a number.
 */
export function declaredBodyLength(head: Uint8Array): number | undefined {
  const end = indexOfHeadEnd(head, 0);
  const text = new TextDecoder().decode(end < 0 ? head : head.subarray(0, end));
  const value = /\r\ncontent-length[ \t]*:[ \t]*([^\r]*)/i.exec(text)?.[1]?.trim();
  if (value === undefined) return 0;
  return /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** Whether `error` is "too many open files" (the process or the system). */
export function isOutOfDescriptors(error: unknown): boolean {
  return error instanceof Error && /os error 2[34]|Too many open files/.test(error.message);
}

/** A pump's smallest and largest buffer: idle connections park a small one in their read. */
const PUMP_BUFFER = { min: 1024, max: 65536 };

/**
 * Bytes of pump buffers beyond their smallest size, shared by every connection: a buffer grows
 * only while the pool has room, so thousands of busy connections (slow bodies, many sockets)
 * cost a bounded amount of memory and only copy in smaller steps.
 */
export class PumpBuffers {
  #used = 0;

  constructor(readonly limit: number) {}

  /** Bytes granted now. */
  get used(): number {
    return this.#used;
  }

  /** Grants `bytes` more if they fit. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  /** Returns `bytes` granted earlier. */
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/**
 * A connection's read buffer: `min` bytes while the traffic is light, doubled (up to `max`) after
 * a read that filled it while `pool` grants the growth, halved after a read that used less than a
 * quarter of it. {@linkcode release} gives the growth back to the pool.
 */
export class PooledBuffer {
  #bytes: Uint8Array<ArrayBuffer>;

  constructor(
    private readonly pool: PumpBuffers,
    private readonly size: { readonly min: number; readonly max: number },
  ) {
    this.#bytes = new Uint8Array(size.min);
  }

  /** The buffer to read into now. */
  get bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes;
  }

  /** Sizes the buffer for the next read after one that read `count` bytes. */
  read(count: number): void {
    const { length } = this.#bytes;
    if (count === length && length < this.size.max) this.#resize(length * 2);
    else if (count < length / 4 && length > this.size.min) this.#resize(length / 2);
  }

  /** Gives the growth back to the pool; the buffer is not used after this. */
  release(): void {
    this.pool.give(this.#bytes.length - this.size.min);
  }

  #resize(length: number): void {
    const { length: now } = this.#bytes;
    if (length > now && !this.pool.take(length - now)) return;
    if (length < now) this.pool.give(now - length);
    this.#bytes = new Uint8Array(length);
  }
}

/** When a pump's write to its destination started waiting, if one is waiting now. */
export interface WriteWatch {
  waitingSince: number | undefined;
}

/**
 * Copies bytes one way until either side ends, or until `stopped()` (checked after each read) says
 * the rest is not wanted: the copy then ends without passing on the end of the stream, and what the
 * peer sends stays in the kernel's buffers. Its buffer is a {@linkcode PooledBuffer}. `watch`, when given, shows a write
 * that is waiting for room (a destination that reads nothing).
 */
export async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  pool: PumpBuffers,
  options: { stopped?: () => boolean; watch?: WriteWatch } = {},
): Promise<void> {
  const { stopped = () => false, watch } = options;
  const buffer = new PooledBuffer(pool, PUMP_BUFFER);
  try {
    while (true) {
      const bytes = buffer.bytes;
      const count = await from.read(bytes);
      if (stopped()) return;
      if (count === null) break;
      for (let written = 0; written < count;) {
        if (watch) watch.waitingSince = Date.now();
        written += await to.write(bytes.subarray(written, count));
        if (watch) watch.waitingSince = undefined;
      }
      buffer.read(count);
    }
    await to.closeWrite();
  } catch {
    // Reset by the peer, or closed by the gate.
  } finally {
    buffer.release();
  }
}

/**
 * The bytes up to the end of the next request head (and any that came with it), starting with
 * `initial` (bytes already read off the connection), or `undefined` when the peer ended, failed,
 * or sent more than `maxHeadBytes` first (it then gets 431). The first read takes up to
 * `firstReadBytes`; the buffer doubles from there.
 */
export async function readHead(
  conn: Deno.TcpConn,
  maxHeadBytes: number,
  initial: Uint8Array = new Uint8Array(),
  firstReadBytes = 1024,
): Promise<Uint8Array | undefined> {
  if (indexOfHeadEnd(initial, 0) >= 0) return initial;
  let buffer = new Uint8Array(Math.max(firstReadBytes, initial.length));
  buffer.set(initial);
  let length = initial.length;
  try {
    while (true) {
      if (length === buffer.length) {
        if (buffer.length >= maxHeadBytes) {
          await conn.write(
            new TextEncoder().encode(
              "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n" +
                "content-length: 0\r\n\r\n",
            ),
          );
          return undefined;
        }
        const bigger = new Uint8Array(Math.min(buffer.length * 2, maxHeadBytes));
        bigger.set(buffer);
        buffer = bigger;
      }
      const count = await conn.read(buffer.subarray(length));
      if (count === null) return undefined;
      length += count;
      const end = indexOfHeadEnd(buffer.subarray(0, length), length - count);
      if (end >= 0) return buffer.subarray(0, length);
    }
  } catch {
    return undefined; // closed by its deadline or to make room, or reset
  }
}
