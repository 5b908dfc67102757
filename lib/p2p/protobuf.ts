/**
 * The small part of the protobuf wire format the rendezvous messages need: varints and
 * length-delimited fields. Hand-written so the rendezvous codec depends on nothing but this file.
 *
 * @module
 */

/** Wire types used here. */
const VARINT = 0;
const LENGTH_DELIMITED = 2;
const I64 = 1;
const I32 = 5;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Builds one protobuf message, field by field. */
export class ProtobufWriter {
  readonly #chunks: Uint8Array[] = [];

  #varint(value: bigint): void {
    // Negative int64 values take ten bytes in two's complement, as protobuf specifies.
    let rest = BigInt.asUintN(64, value);
    const bytes: number[] = [];
    do {
      const low = Number(rest & 0x7fn);
      rest >>= 7n;
      bytes.push(rest === 0n ? low : low | 0x80);
    } while (rest !== 0n);
    this.#chunks.push(Uint8Array.from(bytes));
  }

  #tag(field: number, wireType: number): void {
    this.#varint(BigInt((field << 3) | wireType));
  }

  /** Writes a varint field (enum, int64, uint64, bool). */
  uint(field: number, value: number | bigint): this {
    this.#tag(field, VARINT);
    this.#varint(BigInt(value));
    return this;
  }

  /** Writes a bytes field. */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, LENGTH_DELIMITED);
    this.#varint(BigInt(value.byteLength));
    this.#chunks.push(value);
    return this;
  }

  /** Writes a string field as UTF-8. */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** The message so far. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

/** One decoded field: its number and either a varint or the raw bytes. */
export type ProtobufField =
  | { readonly field: number; readonly kind: "varint"; readonly value: bigint }
  | { readonly field: number; readonly kind: "bytes"; readonly value: Uint8Array };

/**
 * Splits a message into its fields, skipping fixed-width ones the rendezvous messages never use.
 *
 * @throws {RangeError} when the bytes are not a well-formed message.
 */
export function readFields(message: Uint8Array): ProtobufField[] {
  const fields: ProtobufField[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = message[offset++];
      if (byte === undefined) throw new RangeError("Cannot read protobuf: truncated varint");
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, value);
    }
    throw new RangeError("Cannot read protobuf: varint longer than ten bytes");
  };
  const skip = (length: number) => {
    if (offset + length > message.byteLength) {
      throw new RangeError(`Cannot read protobuf: field of ${length} bytes runs past the end`);
    }
    offset += length;
  };
  while (offset < message.byteLength) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (wireType === VARINT) fields.push({ field, kind: "varint", value: varint() });
    else if (wireType === LENGTH_DELIMITED) {
      const length = Number(varint());
      const start = offset;
      skip(length);
      fields.push({ field, kind: "bytes", value: message.subarray(start, start + length) });
    } else if (wireType === I64) skip(8);
    else if (wireType === I32) skip(4);
    else throw new RangeError(`Cannot read protobuf: unsupported wire type ${wireType}`);
  }
  return fields;
}

/** Decodes UTF-8 strictly. @throws {TypeError} on invalid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  return fromUtf8.decode(bytes);
}

/** Reads a varint as a signed 64-bit integer (protobuf int64). */
export function toInt64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}
