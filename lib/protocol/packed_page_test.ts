import assert from "node:assert/strict";
import { decodePackedPage, encodePackedPage } from "./packed_page.ts";
import { encodeBacklogPage } from "./backlog_page.ts";
import { type EnvelopeFrame, FrameError } from "./socket_frames.ts";

const T = 1767225600000;
const ENVELOPES: EnvelopeFrame[] = [
  { seq: 41, from: "laptop", to: "phone", createdAt: T, body: new Uint8Array([1, 2]) },
  { seq: 42, from: "laptop", to: null, createdAt: T + 1, body: new Uint8Array() },
  { seq: 45, from: "phone", to: "laptop", createdAt: T - 300, body: new Uint8Array([0]) },
  { seq: 46, from: "x".repeat(255), to: "phone", createdAt: T - 300, body: new Uint8Array(9) },
  {
    seq: Number.MAX_SAFE_INTEGER,
    from: "tablet",
    to: null,
    createdAt: T + 86_400_000,
    body: Uint8Array.from({ length: 70_000 }, (_, i) => i % 251),
  },
];

Deno.test("a packed page decodes to the envelopes it was encoded from, in order", () => {
  assert.deepEqual(decodePackedPage(encodePackedPage(ENVELOPES)), ENVELOPES);
  assert.equal(encodePackedPage([]).byteLength, 0);
  assert.deepEqual(decodePackedPage(new Uint8Array()), []);
});

/** Unsigned LEB128 of `value`, written independently of the module (with BigInt). */
function leb128(value: number): number[] {
  const bytes = [];
  let rest = BigInt(value);
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return bytes;
}

Deno.test("a packed record is the body's length, seq and time steps and label references, then the body", () => {
  const page = encodePackedPage(ENVELOPES.slice(0, 3));
  const label = (text: string) => [1, text.length, ...new TextEncoder().encode(text)];
  assert.deepEqual([...page], [
    // 2-byte body, seq 41, new labels "laptop" and "phone", created_at T (zigzag: 2T)
    ...[2, 41, ...label("laptop"), ...label("phone"), ...leb128(2 * T), 1, 2],
    // empty body, seq +1, "laptop" (label 2), broadcast, +1 ms (zigzag 2)
    ...[0, 1, 2, 0, 2],
    // 1-byte body, seq +3, "phone" (label 3), "laptop" (label 2), -301 ms (zigzag 601)
    ...[1, 3, 3, 2, ...leb128(601), 0],
  ]);
});

Deno.test("a page of 1 KiB envelopes costs about 6 bytes each, whatever the device ids' length", () => {
  const from = "device-5f0c2a8e-8a57-4d0e-9c3b-2f1d6c7b9a10";
  const envelopes = Array.from({ length: 1000 }, (_, i) => ({
    seq: 1 + i,
    from,
    to: null,
    createdAt: T + Math.floor(i / 7),
    body: new Uint8Array(1024),
  }));
  const packed = encodePackedPage(envelopes).byteLength / 1000 - 1024;
  const frames = encodeBacklogPage(envelopes).byteLength / 1000 - 1024;
  assert.ok(packed < 6.1, `packed: ${packed} bytes per envelope`);
  assert.equal(frames, 23 + from.length, "frames carry every label every time");
});

Deno.test("a packed page cut anywhere inside a record is refused with a FrameError", () => {
  const page = encodePackedPage(ENVELOPES.slice(0, 3));
  const recordEnds = new Set(
    [1, 2, 3].map((n) => encodePackedPage(ENVELOPES.slice(0, n)).byteLength),
  );
  for (let cut = 1; cut < page.byteLength; cut++) {
    if (recordEnds.has(cut)) continue; // whole records: a shorter, valid page
    assert.throws(() => decodePackedPage(page.subarray(0, cut)), FrameError, `cut at ${cut}`);
  }
});

Deno.test("a packed page with a label it never gave, a seq that does not increase or an overlong varint is refused", () => {
  const broken: [string, number[]][] = [
    ["unknown label", [0, 1, 2, 0, 0]],
    ["missing sender", [0, 1, 0, 0, 0]],
    ["empty label", [0, 1, 1, 0, 0, 0]],
    ["seq step 0", [0, 1, 1, 1, 0x61, 0, 0, 0, 0, 2, 0, 0]],
    ["label not UTF-8", [0, 1, 1, 1, 0xff, 0, 0]],
    ["varint of 9 bytes", [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ["seq beyond 2^53", [0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 1, 1, 0x61, 0, 0]],
  ];
  for (const [what, bytes] of broken) {
    assert.throws(() => decodePackedPage(new Uint8Array(bytes)), FrameError, what);
  }
});

Deno.test("encoding refuses seqs that do not increase and labels over 255 bytes", () => {
  const [first, second] = ENVELOPES;
  assert.throws(() => encodePackedPage([second!, first!]), RangeError);
  assert.throws(() => encodePackedPage([{ ...first!, from: "x".repeat(256) }]), RangeError);
});
