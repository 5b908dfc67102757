import assert from "node:assert/strict";
import {
  decodeEnvelopeFrame,
  decodeSendFrame,
  encodeEnvelopeFrame,
  encodeSendFrame,
  envelopeFrameSize,
  writeEnvelopeFrame,
} from "./socket_frames.ts";

const FRAME = {
  seq: 2 ** 53 - 1,
  from: "laptop",
  to: "phone",
  createdAt: 1767225600000,
  body: new Uint8Array([104, 105]),
};

Deno.test("an envelope frame round-trips seqs and times up to 2^53 - 1", () => {
  for (const seq of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
    const frame = { ...FRAME, seq, createdAt: seq };
    assert.deepEqual(decodeEnvelopeFrame(encodeEnvelopeFrame(frame)), frame);
  }
  const broadcast = { ...FRAME, to: null };
  assert.deepEqual(decodeEnvelopeFrame(encodeEnvelopeFrame(broadcast)), broadcast);
});

Deno.test("writeEnvelopeFrame writes the same bytes as encodeEnvelopeFrame at an offset", () => {
  const size = envelopeFrameSize(FRAME);
  const bytes = new Uint8Array(size + 5).fill(0xee);
  assert.equal(writeEnvelopeFrame(FRAME, { bytes, at: 3 }), 3 + size);
  assert.deepEqual(bytes.subarray(3, 3 + size), encodeEnvelopeFrame(FRAME));
  assert.deepEqual([...bytes.subarray(0, 3), ...bytes.subarray(3 + size)], [
    0xee,
    0xee,
    0xee,
    0xee,
    0xee,
  ]);
});

Deno.test("an envelope frame refuses a label longer than 255 bytes, counted in UTF-8", () => {
  assert.throws(() => encodeEnvelopeFrame({ ...FRAME, from: "x".repeat(256) }), RangeError);
  assert.throws(() => encodeEnvelopeFrame({ ...FRAME, to: "é".repeat(128) }), RangeError);
  const accented = { ...FRAME, from: "é".repeat(127) };
  assert.equal(envelopeFrameSize(accented), envelopeFrameSize(FRAME) - 6 + 254);
  assert.deepEqual(decodeEnvelopeFrame(encodeEnvelopeFrame(accented)), accented);
});

Deno.test("a send frame round-trips its id, recipient, idempotency key and body", () => {
  const send = { id: 2 ** 32 - 1, to: "phone", idempotencyKey: "op-0001", body: FRAME.body };
  const bytes = encodeSendFrame(send);
  assert.deepEqual([...bytes.subarray(0, 6)], [2, 0xff, 0xff, 0xff, 0xff, 5]);
  assert.deepEqual(decodeSendFrame(bytes), send);
  const bare = { id: 7, to: null, idempotencyKey: null, body: new Uint8Array(0) };
  assert.deepEqual(decodeSendFrame(encodeSendFrame(bare)), bare);
  const accented = { ...bare, idempotencyKey: "clé" }; // refused later as a key, decoded as sent
  assert.deepEqual(decodeSendFrame(encodeSendFrame(accented)), accented);
});
