/**
 * Binary frames of the protocol-3 socket, shared by the relay and the reference client.
 * Envelope bodies travel as raw bytes; control messages are small JSON text frames.
 *
 * Relay to device, an envelope (type 1):
 *   u8 type=1 | u64 seq | u8 fromLength | from | u8 toLength | to (0 = broadcast) | u64 createdAt | body
 * Device to relay, a send (type 2):
 *   u8 type=2 | u32 id | u8 toLength | to (0 = broadcast) | u8 keyLength | idempotency key | body
 *
 * Integers are big-endian; labels are ASCII.
 *
 * @module
 */

/** Frame type of an envelope pushed by the relay. */
export const ENVELOPE_FRAME = 1;
/** Frame type of a send from a device. */
export const SEND_FRAME = 2;

/** The context string signed in the socket challenge. */
export const SOCKET_AUTH_CONTEXT = "vaultmesh-relay-socket-v3";

/** The WebSocket subprotocol naming protocol 3. */
export const SOCKET_SUBPROTOCOL = "vaultmesh.3";

/** An envelope frame's fields. */
export interface EnvelopeFrame {
  readonly seq: number;
  readonly from: string;
  readonly to: string | null;
  readonly createdAt: number;
  readonly body: Uint8Array;
}

/** A send frame's fields. */
export interface SendFrame {
  readonly id: number;
  readonly to: string | null;
  readonly idempotencyKey: string | null;
  readonly body: Uint8Array;
}

/** A frame that cannot be decoded. */
export class FrameError extends Error {
  override name = "FrameError";
}

const ascii = new TextEncoder();
const fromAscii = new TextDecoder();

/** The bytes the device signs to answer a socket challenge. */
export function socketAuthMessage(
  fields: { authority: string; challenge: string; vaultId: string; deviceId: string },
): Uint8Array<ArrayBuffer> {
  return ascii.encode(
    [SOCKET_AUTH_CONTEXT, fields.authority, fields.challenge, fields.vaultId, fields.deviceId]
      .join("\n"),
  );
}

/** Encodes an envelope frame. */
export function encodeEnvelopeFrame(frame: EnvelopeFrame): Uint8Array<ArrayBuffer> {
  const from = ascii.encode(frame.from);
  const to = ascii.encode(frame.to ?? "");
  const out = new Uint8Array(1 + 8 + 1 + from.length + 1 + to.length + 8 + frame.body.length);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = ENVELOPE_FRAME;
  view.setBigUint64(at, BigInt(frame.seq));
  at += 8;
  out[at++] = from.length;
  out.set(from, at);
  at += from.length;
  out[at++] = to.length;
  out.set(to, at);
  at += to.length;
  view.setBigUint64(at, BigInt(frame.createdAt));
  at += 8;
  out.set(frame.body, at);
  return out;
}

class Reader {
  at = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(count: number): void {
    if (this.at + count > this.bytes.length) throw new FrameError("The frame is truncated");
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at);
    this.at += 4;
    return value;
  }
  u64(): number {
    this.need(8);
    const value = Number(this.view.getBigUint64(this.at));
    this.at += 8;
    return value;
  }
  text(): string {
    const length = this.u8();
    this.need(length);
    const value = fromAscii.decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return value;
  }
  rest(): Uint8Array {
    return this.bytes.subarray(this.at);
  }
}

/** Decodes an envelope frame. */
export function decodeEnvelopeFrame(bytes: Uint8Array): EnvelopeFrame {
  const reader = new Reader(bytes);
  if (reader.u8() !== ENVELOPE_FRAME) throw new FrameError("Not an envelope frame");
  const seq = reader.u64();
  const from = reader.text();
  const to = reader.text();
  const createdAt = reader.u64();
  return { seq, from, to: to === "" ? null : to, createdAt, body: reader.rest() };
}

/** Encodes a send frame. */
export function encodeSendFrame(frame: SendFrame): Uint8Array<ArrayBuffer> {
  const to = ascii.encode(frame.to ?? "");
  const key = ascii.encode(frame.idempotencyKey ?? "");
  if (to.length > 255 || key.length > 255) throw new RangeError("Label too long for a frame");
  const out = new Uint8Array(1 + 4 + 1 + to.length + 1 + key.length + frame.body.length);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = SEND_FRAME;
  view.setUint32(at, frame.id);
  at += 4;
  out[at++] = to.length;
  out.set(to, at);
  at += to.length;
  out[at++] = key.length;
  out.set(key, at);
  at += key.length;
  out.set(frame.body, at);
  return out;
}

/** Decodes a send frame. @throws {FrameError} when malformed. */
export function decodeSendFrame(bytes: Uint8Array): SendFrame {
  const reader = new Reader(bytes);
  if (reader.u8() !== SEND_FRAME) throw new FrameError("Not a send frame (first byte must be 2)");
  const id = reader.u32();
  const to = reader.text();
  const key = reader.text();
  return {
    id,
    to: to === "" ? null : to,
    idempotencyKey: key === "" ? null : key,
    body: reader.rest(),
  };
}
