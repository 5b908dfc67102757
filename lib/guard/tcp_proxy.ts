/**
 * The byte-level half of the connection gate: reading a request head off a TCP connection, and
 * copying bytes between two connections.
 *
 * @module
 */

const HEAD_END = [13, 10, 13, 10];

function indexOfHeadEnd(bytes: Uint8Array, from: number): number {
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

/** When a pump's write to its destination started waiting, if one is waiting now. */
export interface WriteWatch {
  waitingSince: number | undefined;
}

/**
 * Copies bytes one way until either side ends, or until `stopped()` (checked after each read) says
 * the rest is not wanted: the copy then ends without passing on the end of the stream, and what the
 * peer sends stays in the kernel's buffers. The buffer grows with the traffic while `pool` grants
 * the growth, and shrinks (returning it) when the traffic falls. `watch`, when given, shows a write
 * that is waiting for room (a destination that reads nothing).
 */
export async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  pool: PumpBuffers,
  options: { stopped?: () => boolean; watch?: WriteWatch } = {},
): Promise<void> {
  const { stopped = () => false, watch } = options;
  let buffer = new Uint8Array(PUMP_BUFFER.min);
  const resize = (length: number) => {
    if (length > buffer.length && !pool.take(length - buffer.length)) return;
    if (length < buffer.length) pool.give(buffer.length - length);
    buffer = new Uint8Array(length);
  };
  try {
    while (true) {
      const count = await from.read(buffer);
      if (stopped()) return;
      if (count === null) break;
      for (let written = 0; written < count;) {
        if (watch) watch.waitingSince = Date.now();
        written += await to.write(buffer.subarray(written, count));
        if (watch) watch.waitingSince = undefined;
      }
      if (count === buffer.length && buffer.length < PUMP_BUFFER.max) resize(count * 2);
      else if (count < buffer.length / 4 && buffer.length > PUMP_BUFFER.min) {
        resize(buffer.length / 2);
      }
    }
    await to.closeWrite();
  } catch {
    // Reset by the peer, or closed by the gate.
  } finally {
    pool.give(buffer.length - PUMP_BUFFER.min);
  }
}

/**
 * The bytes up to the end of the first request head (and any that came with it), or `undefined`
 * when the peer ended, failed, or sent more than `maxHeadBytes` first (it then gets 431).
 */
export async function readHead(
  conn: Deno.TcpConn,
  maxHeadBytes: number,
): Promise<Uint8Array | undefined> {
  let buffer = new Uint8Array(1024);
  let length = 0;
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
