/**
 * The server's side of a WebSocket (RFC 6455), spoken by the connection gate on the client's own
 * TCP connection. A socket upgraded by `Deno.serve` behind the gate costs two more descriptors,
 * a loopback hop with its kernel buffers, two copy loops and the HTTP server's connection; this
 * one costs the client's connection, a read buffer and the frames it queues. It also bounds what
 * a client can make it hold: a frame's declared length is checked against the message limit
 * before a byte of its payload is read (a few KiB until the socket authenticates), and a payload
 * is held only as far as it has arrived.
 *
 * Covers what a device socket uses: text and binary messages (fragmented or not), ping and pong,
 * the closing handshake. No extensions are offered, so compressed (RSV1) frames are refused.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { DeviceSocket, SocketEvents, SocketState } from "../live/device_socket.ts";
import { PooledBuffer, type PumpBuffers, type WriteWatch } from "./tcp_proxy.ts";
import { WEBSOCKET_FAILURE as FAILURE } from "../protocol/close_codes.ts";

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The `Sec-WebSocket-Accept` answering a client's `Sec-WebSocket-Key`. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + ACCEPT_GUID).digest("base64");
}

/** Frame opcodes (RFC 6455 §5.2). */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** The read buffer: small while idle, doubled while reads fill it (within the gate's pool). */
const READ_BUFFER = { min: 1024, max: 65536 };
/** Frames queued together go out in one write, up to this many bytes. */
const WRITE_BATCH_BYTES = 65536;
/**
 * Binary messages this large or larger are queued as they are, beside a head of their own, not
 * copied into a frame: the copy is made when the frame is written, so a queue holds no copy.
 */
const SHARED_PAYLOAD_BYTES = 4096;
/**
 * A payload buffer starts at most this large and doubles as bytes arrive: a 64 KiB envelope with
 * its frame fields fits at once.
 */
const FIRST_PAYLOAD_BYTES = 65536 + 1024;

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const wordScratch = new Uint8Array(4);
const wordView = new Uint32Array(wordScratch.buffer);

/** A frame waiting to be written: whole, or its head and a payload shared with other sockets. */
type QueuedFrame =
  | Uint8Array<ArrayBuffer>
  | readonly [head: Uint8Array<ArrayBuffer>, payload: Uint8Array<ArrayBuffer>];

function lengthOf(frame: QueuedFrame): number {
  return Array.isArray(frame) ? frame[0].length + frame[1].length : (frame as Uint8Array).length;
}

/** Bytes of the head of a server frame (unmasked) carrying `length` payload bytes. */
export function frameHeadBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** One unmasked frame from the server: FIN set, the payload after a 2, 4 or 10 byte head. */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(frameHeadBytes(payload.length) + payload.length);
  writeFrameHead(frame, opcode, payload.length);
  frame.set(payload, frame.length - payload.length);
  return frame;
}

/** The head alone of a server frame carrying `length` payload bytes. */
export function encodeFrameHead(opcode: number, length: number): Uint8Array<ArrayBuffer> {
  const head = new Uint8Array(frameHeadBytes(length));
  writeFrameHead(head, opcode, length);
  return head;
}

function writeFrameHead(frame: Uint8Array<ArrayBuffer>, opcode: number, length: number): void {
  const headBytes = frameHeadBytes(length);
  frame[0] = 0x80 | opcode;
  if (headBytes === 2) {
    frame[1] = length;
  } else if (headBytes === 4) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    const view = new DataView(frame.buffer);
    view.setUint32(2, Math.floor(length / 2 ** 32));
    view.setUint32(6, length >>> 0);
  }
}

/** A close frame's payload: the code, then up to 123 bytes of reason, cut between characters. */
export function closePayload(code: number | undefined, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = encoder.encode(reason);
  let length = Math.min(text.length, 123);
  while (length < text.length && (text[length]! & 0xc0) === 0x80) length--;
  const payload = new Uint8Array(2 + length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text.subarray(0, length), 2);
  return payload;
}

/** Whether a close frame from a client may carry `code` (RFC 6455 §7.4). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Unmasks `payload[from..to)` in place. `payload` starts its own buffer, so a payload offset is
 * a buffer offset and whole aligned words take the mask as one 32-bit word.
 */
function unmask(payload: Uint8Array, from: number, to: number, mask: Uint8Array): void {
  let at = from;
  for (; at < to && (at & 3) !== 0; at++) payload[at]! ^= mask[at & 3]!;
  const words = (to - at) >>> 2;
  if (words >= 4) {
    wordScratch.set(mask.subarray(0, 4));
    const maskWord = wordView[0]!;
    const view = new Uint32Array(payload.buffer, at, words);
    for (let i = 0; i < words; i++) view[i]! ^= maskWord;
    at += words * 4;
  }
  for (; at < to; at++) payload[at]! ^= mask[at & 3]!;
}

/** What a client can make a {@linkcode RawWebSocket} hold. */
export interface RawSocketLimits {
  /** Largest message before the socket authenticates; beyond it: close 1009. */
  readonly unauthenticatedMessageBytes: number;
  /** Largest message once authenticated; beyond it: close 1009. */
  readonly messageBytes: number;
  /** Unsent bytes of every kind (frames, replies, pongs); beyond them the connection is dropped. */
  readonly queuedBytes: number;
}

/** Why a {@linkcode RawWebSocket} turned a client away, as its metric names it. */
export type SocketRefusal = "socket_message" | "socket_queue";

/** What a {@linkcode RawWebSocket} works with. */
export interface RawWebSocketOptions {
  readonly limits: RawSocketLimits;
  /** Grants the read buffer's growth beyond its smallest size (the gate's copy buffer pool). */
  readonly pool: PumpBuffers;
  /** Shows a write to the client waiting for room. */
  readonly watch: WriteWatch;
  /** Bytes of the client's that came after its request head. */
  readonly leftover?: Uint8Array;
  /** Called once when the TCP connection is closed. */
  readonly onEnd?: () => void;
  /** Called when a limit turns the client away, for metrics. */
  readonly onRefused?: (refusal: SocketRefusal) => void;
}

/** A WebSocket's server side on an upgraded TCP connection. */
export class RawWebSocket implements DeviceSocket {
  #state: SocketState = "connecting";
  #events: SocketEvents | undefined;
  #maxMessageBytes: number;
  /** No more frames are read: a close came, or the client broke the protocol. */
  #reading = true;
  #closeSent = false;
  /** Close the connection once the queue is written (after a closing handshake or a failure). */
  #endWhenFlushed = false;

  // Incoming: the frame head being read (at most 14 bytes, then the 4-byte mask at 14..17).
  readonly #head = new Uint8Array(18);
  #headLength = 0;
  #opcode = 0;
  #final = false;
  #payloadLength = 0;
  #payload: Uint8Array<ArrayBuffer> | undefined;
  #payloadAt = 0;
  /** The pieces of a fragmented message so far, and their opcode. */
  #fragments: Uint8Array<ArrayBuffer>[] | undefined;
  #fragmentsOpcode = 0;
  #fragmentsBytes = 0;

  // Outgoing.
  #queue: QueuedFrame[] = [];
  #queuedBytes = 0;
  #flushing = false;

  constructor(private readonly conn: Deno.TcpConn, private readonly options: RawWebSocketOptions) {
    this.#maxMessageBytes = options.limits.unauthenticatedMessageBytes;
  }

  get state(): SocketState {
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  listen(events: SocketEvents): void {
    this.#events = events;
  }

  /** The handshake's answer went out: the socket is open and its frames are read. */
  start(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.#events?.open();
    if (this.options.leftover?.length) this.#consume(this.options.leftover);
    void this.#readLoop();
  }

  /** The client authenticated: it may send messages up to the larger limit. */
  authenticated(): void {
    this.#maxMessageBytes = this.options.limits.messageBytes;
  }

  /**
   * Queues a message. A binary message of `SHARED_PAYLOAD_BYTES` or more is queued as it is,
   * beside a head of its own, so it must not change once sent: the readers of a vault then queue
   * one buffer between them (`live/delivery.ts` encodes an envelope's frame once), not a framed
   * copy each.
   */
  send(frame: string | Uint8Array<ArrayBuffer>): void {
    if (this.#state !== "open") return;
    if (typeof frame === "string") this.#enqueue(encodeFrame(OPCODE.text, encoder.encode(frame)));
    else if (frame.length < SHARED_PAYLOAD_BYTES) this.#enqueue(encodeFrame(OPCODE.binary, frame));
    else this.#enqueue([encodeFrameHead(OPCODE.binary, frame.length), frame]);
  }

  /** Sends a close frame; the connection ends when the client answers it (or is torn down). */
  close(code: number, reason: string): void {
    if (this.#state === "connecting") return this.#end();
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#sendClose(code, reason);
  }

  #sendClose(code: number | undefined, reason?: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#enqueue(encodeFrame(OPCODE.close, closePayload(code, reason)));
  }

  /** Ends the connection: the TCP connection is closed, the session told. */
  #end(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#reading = false;
    this.#queue = [];
    this.#queuedBytes = 0;
    try {
      this.conn.close();
    } catch {
      // Already closed (torn down by the gate).
    }
    this.options.onEnd?.();
    this.#events?.closed();
  }

  /** The client broke the protocol: say why and end the connection. */
  #fail(code: number, reason: string): void {
    if (code === FAILURE.tooBig) this.options.onRefused?.("socket_message");
    this.#reading = false;
    if (this.#state === "open") this.#state = "closing";
    this.#sendClose(code, reason);
    this.#endWhenFlushed = true;
    if (!this.#flushing) this.#end();
  }

  // --- Writing -----------------------------------------------------------------------------

  #enqueue(frame: QueuedFrame): void {
    const bytes = lengthOf(frame);
    if (this.#queuedBytes + bytes > this.options.limits.queuedBytes) {
      // The client reads nothing while it keeps asking (pings, control messages): a close frame
      // would never reach it either.
      this.options.onRefused?.("socket_queue");
      return this.#end();
    }
    this.#queue.push(frame);
    this.#queuedBytes += bytes;
    if (this.#flushing) return;
    this.#flushing = true;
    // Once the code running now is done (a microtask): what it queued goes out in one write.
    queueMicrotask(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const { watch } = this.options;
    try {
      while (this.#queue.length > 0 && this.#state !== "closed") {
        const batch = this.#takeBatch();
        for (let written = 0; written < batch.length;) {
          watch.waitingSince = Date.now();
          written += await this.conn.write(batch.subarray(written));
        }
        watch.waitingSince = undefined;
        this.#queuedBytes -= batch.length;
      }
    } catch {
      this.#endWhenFlushed = true; // reset by the client, or torn down
    } finally {
      watch.waitingSince = undefined;
      this.#flushing = false;
    }
    if (this.#endWhenFlushed) this.#end();
  }

  /**
   * The next write: small frames joined up to a batch, or one large frame alone (a head and a
   * shared payload are joined for it: one write, not two).
   */
  #takeBatch(): Uint8Array<ArrayBuffer> {
    const queue = this.#queue;
    let count = 0;
    let bytes = 0;
    while (count < queue.length && bytes + lengthOf(queue[count]!) <= WRITE_BATCH_BYTES) {
      bytes += lengthOf(queue[count]!);
      count++;
    }
    if (count === 0) [count, bytes] = [1, lengthOf(queue[0]!)];
    if (count === 1 && !Array.isArray(queue[0])) return queue.shift() as Uint8Array<ArrayBuffer>;
    const batch = new Uint8Array(bytes);
    let at = 0;
    for (const frame of queue.splice(0, count)) {
      for (const part of Array.isArray(frame) ? frame : [frame]) {
        batch.set(part, at);
        at += part.length;
      }
    }
    return batch;
  }

  // --- Reading -----------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const buffer = new PooledBuffer(this.options.pool, READ_BUFFER);
    try {
      while (this.#reading) {
        const bytes = buffer.bytes;
        const count = await this.conn.read(bytes);
        if (count === null) break;
        // Every byte is copied out (into the head or a payload): the buffer is free again.
        this.#consume(bytes.subarray(0, count));
        buffer.read(count);
      }
    } catch {
      // Reset by the client, or closed by the gate.
    } finally {
      buffer.release();
    }
    // The client left (or broke the protocol): nothing more will be read.
    if (!this.#endWhenFlushed || !this.#flushing) this.#end();
  }

  #consume(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length && this.#reading) {
      at = this.#payload === undefined ? this.#readHead(bytes, at) : this.#readPayload(bytes, at);
    }
  }

  /** Bytes the frame head needs: 2, then the extended length and the mask they announce. */
  #headBytes(): number {
    if (this.#headLength < 2) return 2;
    const length = this.#head[1]! & 0x7f;
    return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + 4;
  }

  #readHead(bytes: Uint8Array, at: number): number {
    const take = Math.min(this.#headBytes() - this.#headLength, bytes.length - at);
    this.#head.set(bytes.subarray(at, at + take), this.#headLength);
    this.#headLength += take;
    // Without the mask bit the head is shorter than it claims: refuse it before waiting for more.
    if (this.#headLength >= 2 && (this.#head[1]! & 0x80) === 0) {
      this.#headLength = 0;
      this.#fail(FAILURE.protocolError, "client frames are masked");
    } else if (this.#headLength === this.#headBytes()) this.#beginFrame();
    return at + take;
  }

  #beginFrame(): void {
    const head = this.#head;
    const first = head[0]!;
    const second = head[1]!;
    const headBytes = this.#headLength;
    this.#headLength = 0;
    if ((first & 0x70) !== 0) return this.#fail(FAILURE.protocolError, "reserved bits set");
    let length = second & 0x7f;
    if (length === 126) length = (head[2]! << 8) | head[3]!;
    if (length === 127) {
      const view = new DataView(head.buffer);
      const high = view.getUint32(2);
      if (high > 0x1fffff) return this.#fail(FAILURE.tooBig, "message too big");
      length = high * 2 ** 32 + view.getUint32(6);
    }
    head.copyWithin(14, headBytes - 4, headBytes); // the mask
    const opcode = first & 0x0f;
    const refusal = this.#refusal(opcode, (first & 0x80) !== 0, length);
    if (refusal) return this.#fail(refusal[0], refusal[1]);
    this.#opcode = opcode;
    this.#final = (first & 0x80) !== 0;
    this.#payloadLength = length;
    this.#payloadAt = 0;
    this.#payload = new Uint8Array(Math.min(length, FIRST_PAYLOAD_BYTES));
    if (length === 0) this.#endFrame();
  }

  /** Why a frame with this head is refused (a close code and reason), if it is. */
  #refusal(opcode: number, final: boolean, length: number): [number, string] | undefined {
    if (opcode >= 0x8) {
      if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) {
        return [FAILURE.protocolError, "unknown opcode"];
      }
      if (!final || length > 125) {
        return [FAILURE.protocolError, "control frames are short and whole"];
      }
      return undefined;
    }
    if (opcode > OPCODE.binary) return [FAILURE.protocolError, "unknown opcode"];
    if (opcode === OPCODE.continuation && !this.#fragments) {
      return [FAILURE.protocolError, "continuation without a message"];
    }
    if (opcode !== OPCODE.continuation && this.#fragments) {
      return [FAILURE.protocolError, "a new message inside a fragmented one"];
    }
    if (this.#fragmentsBytes + length > this.#maxMessageBytes) {
      return [FAILURE.tooBig, "message too big"];
    }
    return undefined;
  }

  #readPayload(bytes: Uint8Array, at: number): number {
    const take = Math.min(this.#payloadLength - this.#payloadAt, bytes.length - at);
    const end = this.#payloadAt + take;
    if (end > this.#payload!.length) {
      const grown = Math.max(this.#payload!.length * 2, end);
      const larger = new Uint8Array(Math.min(this.#payloadLength, grown));
      larger.set(this.#payload!.subarray(0, this.#payloadAt));
      this.#payload = larger;
    }
    this.#payload!.set(bytes.subarray(at, at + take), this.#payloadAt);
    unmask(this.#payload!, this.#payloadAt, end, this.#head.subarray(14));
    this.#payloadAt = end;
    if (end === this.#payloadLength) this.#endFrame();
    return at + take;
  }

  #endFrame(): void {
    const payload = this.#payload!;
    this.#payload = undefined;
    switch (this.#opcode) {
      case OPCODE.close:
        return this.#closeReceived(payload);
      case OPCODE.ping:
        if (this.#state === "open") this.#enqueue(encodeFrame(OPCODE.pong, payload));
        return;
      case OPCODE.pong:
        return;
    }
    if (!this.#final || this.#fragments) {
      this.#fragments ??= [];
      if (this.#fragments.length === 0) this.#fragmentsOpcode = this.#opcode;
      this.#fragments.push(payload);
      this.#fragmentsBytes += payload.length;
      if (!this.#final) return;
      const whole = new Uint8Array(this.#fragmentsBytes);
      let at = 0;
      for (const piece of this.#fragments) {
        whole.set(piece, at);
        at += piece.length;
      }
      this.#fragments = undefined;
      this.#fragmentsBytes = 0;
      return this.#deliver(this.#fragmentsOpcode, whole);
    }
    this.#deliver(this.#opcode, payload);
  }

  #deliver(opcode: number, payload: Uint8Array<ArrayBuffer>): void {
    if (this.#state !== "open") return; // closing: what comes after our close frame is dropped
    if (opcode === OPCODE.binary) return this.#events?.message(payload.buffer);
    let text: string;
    try {
      text = strictUtf8.decode(payload);
    } catch {
      return this.#fail(FAILURE.invalidData, "text is not UTF-8");
    }
    this.#events?.message(text);
  }

  /** The client's close: answer it (unless this side closed first) and end the connection. */
  #closeReceived(payload: Uint8Array): void {
    let code: number | undefined;
    if (payload.length === 1) return this.#fail(FAILURE.protocolError, "bad close frame");
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) return this.#fail(FAILURE.protocolError, "bad close code");
      try {
        strictUtf8.decode(payload.subarray(2));
      } catch {
        return this.#fail(FAILURE.invalidData, "close reason is not UTF-8");
      }
    }
    this.#reading = false;
    if (this.#state === "open") this.#state = "closing";
    this.#sendClose(code);
    this.#endWhenFlushed = true;
    if (!this.#flushing) this.#end();
  }
}
