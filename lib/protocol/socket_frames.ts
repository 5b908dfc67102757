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

/** Bytes of a label: its UTF-8 length (device ids are ASCII), at most 255. */
function labelSize(label: string): number {
  let size = label.length;
  for (let i = 0; i < label.length; i++) {
    if (label.charCodeAt(i) > 0x7f) {
      size = ascii.encode(label).length;
      break;
    }
  }
  if (size > 255) throw new RangeError(`Label too long for a frame: ${size} bytes`);
  return size;
}

/** Writes `label` (its length byte, then its bytes) at `at`; returns the offset after it. */
function writeLabel(bytes: Uint8Array, at: number, label: string): number {
  const size = labelSize(label);
  bytes[at] = size;
  ascii.encodeInto(label, bytes.subarray(at + 1, at + 1 + size));
  return at + 1 + size;
}

/** Bytes of the fixed fields of an envelope frame: type, seq, two label lengths, createdAt. */
const ENVELOPE_FRAME_FIXED = 1 + 8 + 1 + 1 + 8;

/** The size in bytes of `frame` encoded as an envelope frame. */
export function envelopeFrameSize(frame: EnvelopeFrame): number {
  return ENVELOPE_FRAME_FIXED + labelSize(frame.from) + labelSize(frame.to ?? "") +
    frame.body.byteLength;
}

/** Writes a u64 below 2^53 as two u32s: faster than a BigInt. */
function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 0x1_0000_0000));
  view.setUint32(at + 4, value >>> 0);
}

/** Reads a u64 written by {@linkcode setUint64}: exact below 2^53, as every seq and time is. */
function getUint64(view: DataView, at: number): number {
  return view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
}

/**
 * Writes `frame` as an envelope frame into `into.bytes` at `into.at`, where
 * {@linkcode envelopeFrameSize} bytes must be free, and returns the offset after it. For
 * callers that put many frames in one buffer (a backlog page); one frame:
 * {@linkcode encodeEnvelopeFrame}.
 */
export function writeEnvelopeFrame(
  frame: EnvelopeFrame,
  into: { readonly bytes: Uint8Array; readonly at: number },
): number {
  const { bytes } = into;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = into.at;
  bytes[at] = ENVELOPE_FRAME;
  setUint64(view, at + 1, frame.seq);
  at += 9;
  at = writeLabel(bytes, at, frame.from);
  at = writeLabel(bytes, at, frame.to ?? "");
  setUint64(view, at, frame.createdAt);
  bytes.set(frame.body, at + 8);
  return at + 8 + frame.body.byteLength;
}

/** Encodes an envelope frame. */
export function encodeEnvelopeFrame(frame: EnvelopeFrame): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(envelopeFrameSize(frame));
  writeEnvelopeFrame(frame, { bytes, at: 0 });
  return bytes;
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
    const value = getUint64(this.view, this.at);
    this.at += 8;
    return value;
  }
  text(): string {
    const length = this.u8();
    this.need(length);
    const value = decodeLabel(this.bytes, this.at, this.at + length);
    this.at += length;
    return value;
  }
  rest(): Uint8Array {
    return this.bytes.subarray(this.at);
  }
}

/**
 * A label's text. Labels are ASCII (device ids, idempotency keys): those are read in JS, which
 * is far cheaper per frame than a call into the runtime's decoder; any other byte goes through
 * the UTF-8 decoder as before.
 */
function decodeLabel(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) {
    const byte = bytes[i]!;
    if (byte > 0x7f) return fromAscii.decode(bytes.subarray(from, to));
    text += String.fromCharCode(byte);
  }
  return text;
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
  const to = frame.to ?? "";
  const key = frame.idempotencyKey ?? "";
  const bytes = new Uint8Array(
    1 + 4 + 1 + labelSize(to) + 1 + labelSize(key) + frame.body.byteLength,
  );
  bytes[0] = SEND_FRAME;
  new DataView(bytes.buffer).setUint32(1, frame.id);
  const at = writeLabel(bytes, writeLabel(bytes, 5, to), key);
  bytes.set(frame.body, at);
  return bytes;
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
