/**
 * Packed backlog pages, shared by the relay and the reference client: what a device gets for
 * `GET …/envelopes` with `Accept: application/vnd.vaultmesh.packed`. The same envelopes as a page
 * of socket envelope frames (`backlog_page.ts`), with what repeats from one envelope to the next
 * left out: each record gives its seq and created_at as differences from the record before, and
 * names its sender and recipient by their place in the page once each has appeared. A 1 KiB
 * envelope costs 6 bytes on top of its body where a frame costs 23 plus its two labels, so a page
 * of small envelopes from long device ids stays close to its bodies' size.
 *
 *   record := varint L | varint Δseq | label from | label to | varint zigzag(Δcreated_at) | L bytes
 *   label  := varint 0 (none: a broadcast `to`) | varint 1, u8 length, bytes (a new label) |
 *             varint n ≥ 2 (the (n-1)-th new label of the page)
 *
 * Varints are unsigned LEB128 (at most 8 bytes, below 2^53); Δseq is the seq less the previous
 * record's (the first record's seq itself; at least 1 after it); Δcreated_at likewise (the first:
 * created_at itself), zigzag-coded because a clock may step back. An empty page is an empty body.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode("ciphertext");
 * const page = encodePackedPage([{ seq: 7, from: "laptop", to: null, createdAt: 0, body }]);
 * const [envelope] = decodePackedPage(page); // envelope.seq === 7
 * ```
 *
 * @module
 */
import { type EnvelopeFrame, FrameError } from "./socket_frames.ts";

/** The media type of a packed backlog page, in `Accept` and `Content-Type`. */
export const BACKLOG_PACKED_TYPE = "application/vnd.vaultmesh.packed";

/** Bytes of a varint at most (7 bits each: 56 bits hold every value below 2^53). */
const MAX_VARINT_BYTES = 8;
/** Label codes: none, a new label follows, or the first of the labels already given. */
const LABEL_NONE = 0;
const LABEL_NEW = 1;
const LABEL_FIRST_KNOWN = 2;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeVarint(bytes: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    bytes[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  bytes[at++] = value;
  return at;
}

/** Zigzag: 0, -1, 1, -2, 2 … as 0, 1, 2, 3, 4 …; exact for magnitudes below 2^52. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** The labels a page has given so far, each with the code that names it after. */
type LabelTable = Map<string, number>;

/** The code naming `label` when the page gave it before; else gives it (undefined). */
function knownLabel(label: string, labels: LabelTable): number | undefined {
  const code = labels.get(label);
  if (code === undefined) labels.set(label, LABEL_FIRST_KNOWN + labels.size);
  return code;
}

function labelSize(label: string | null, labels: LabelTable): number {
  if (label === null) return 1;
  const code = knownLabel(label, labels);
  if (code !== undefined) return varintSize(code);
  const length = utf8.encode(label).length;
  if (length < 1 || length > 255) throw new RangeError(`A label of ${length} bytes in a page`);
  return 2 + length;
}

function writeLabel(bytes: Uint8Array, at: number, label: string | null, labels: LabelTable) {
  if (label === null) return writeVarint(bytes, at, LABEL_NONE);
  const code = knownLabel(label, labels);
  if (code !== undefined) return writeVarint(bytes, at, code);
  bytes[at] = LABEL_NEW;
  const { written } = utf8.encodeInto(label, bytes.subarray(at + 2, at + 2 + 255));
  bytes[at + 1] = written;
  return at + 2 + written;
}

/** The bytes of `envelopes` as a packed page. */
function packedSize(envelopes: readonly EnvelopeFrame[]): number {
  const labels: LabelTable = new Map();
  let size = 0;
  let seq = 0;
  let createdAt = 0;
  for (const envelope of envelopes) {
    if (envelope.seq <= seq) throw new RangeError("A page's seqs must increase");
    size += varintSize(envelope.body.byteLength) + varintSize(envelope.seq - seq) +
      labelSize(envelope.from, labels) + labelSize(envelope.to, labels) +
      varintSize(zigzag(envelope.createdAt - createdAt)) + envelope.body.byteLength;
    seq = envelope.seq;
    createdAt = envelope.createdAt;
  }
  return size;
}

/**
 * Encodes envelopes as the body of a packed page.
 *
 * @throws {RangeError} when their seqs do not increase or a label is empty or over 255 bytes.
 */
export function encodePackedPage(envelopes: readonly EnvelopeFrame[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(packedSize(envelopes));
  const labels: LabelTable = new Map();
  let at = 0;
  let seq = 0;
  let createdAt = 0;
  for (const envelope of envelopes) {
    at = writeVarint(bytes, at, envelope.body.byteLength);
    at = writeVarint(bytes, at, envelope.seq - seq);
    at = writeLabel(bytes, at, envelope.from, labels);
    at = writeLabel(bytes, at, envelope.to, labels);
    at = writeVarint(bytes, at, zigzag(envelope.createdAt - createdAt));
    bytes.set(envelope.body, at);
    at += envelope.body.byteLength;
    seq = envelope.seq;
    createdAt = envelope.createdAt;
  }
  return bytes;
}

/** Reads a packed page front to back, failing with the record it was in. */
class PackedReader {
  at = 0;
  readonly labels: string[] = [];
  record = 1;

  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  fail(what: string): never {
    throw new FrameError(`Record ${this.record} of the packed page: ${what}`);
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.at >= this.bytes.length) this.fail(`the page ends inside ${what}`);
      const byte = this.bytes[this.at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) this.fail(`${what} is not below 2^53`);
        return value;
      }
      scale *= 0x80;
    }
    return this.fail(`${what} is longer than ${MAX_VARINT_BYTES} bytes`);
  }

  label(what: string, allowNone: boolean): string | null {
    const code = this.varint(what);
    if (code === LABEL_NONE) {
      if (!allowNone) this.fail(`${what} is missing`);
      return null;
    }
    if (code === LABEL_NEW) {
      const length = this.take(1, what)[0]!;
      if (length === 0) this.fail(`${what} is empty`);
      let label: string;
      try {
        label = strictUtf8.decode(this.take(length, what));
      } catch {
        return this.fail(`${what} is not UTF-8`);
      }
      this.labels.push(label);
      return label;
    }
    const label = this.labels[code - LABEL_FIRST_KNOWN];
    if (label === undefined) this.fail(`${what} names label ${code}, which the page has not given`);
    return label;
  }

  take(count: number, what: string): Uint8Array {
    if (this.at + count > this.bytes.length) this.fail(`the page ends inside ${what}`);
    const bytes = this.bytes.subarray(this.at, this.at + count);
    this.at += count;
    return bytes;
  }
}

/**
 * Decodes the body of a packed page into its envelopes. Bodies are views into `bytes`, not
 * copies.
 *
 * @throws {FrameError} when a record runs past the end, a seq does not increase, or a label is
 * one the page has not given.
 */
export function decodePackedPage(bytes: Uint8Array): EnvelopeFrame[] {
  const reader = new PackedReader(bytes);
  const envelopes: EnvelopeFrame[] = [];
  let seq = 0;
  let createdAt = 0;
  for (; !reader.done; reader.record++) {
    const length = reader.varint("the body's length");
    const step = reader.varint("the seq");
    if (step < 1) reader.fail("its seq does not increase");
    const from = reader.label("the sender", false)!;
    const to = reader.label("the recipient", true);
    createdAt += unzigzag(reader.varint("created_at"));
    seq += step;
    if (!Number.isSafeInteger(seq)) reader.fail("its seq is not below 2^53");
    envelopes.push({ seq, from, to, createdAt, body: reader.take(length, "the body") });
  }
  return envelopes;
}
