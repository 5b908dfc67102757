import assert from "node:assert/strict";
import {
  decodeCookie,
  decodeMessage,
  discoveredRegistrationBytes,
  encodeCookie,
  encodeMessage,
  MessageType,
} from "./rendezvous_messages.ts";

Deno.test("rendezvous messages survive an encode and decode, negative int64 included", () => {
  const message = {
    type: MessageType.DISCOVER_RESPONSE,
    discoverResponse: {
      registrations: [{ ns: "app", signedPeerRecord: Uint8Array.of(1, 2, 3), ttl: -5n }],
      cookie: Uint8Array.of(9),
      status: 0,
    },
  };
  assert.deepEqual(decodeMessage(encodeMessage(message)), message);
  assert.throws(() => decodeMessage(Uint8Array.of(0x12, 0x05, 0x01)), RangeError);
});

Deno.test("rendezvous cookies use rust-libp2p's layout of a big-endian id and the namespace", () => {
  const cookie = encodeCookie(258, "ns");
  assert.deepEqual([...cookie], [0, 0, 0, 0, 0, 0, 1, 2, 0x6e, 0x73]);
  assert.deepEqual(decodeCookie(cookie), { lastId: 258, namespace: "ns" });
  assert.deepEqual(decodeCookie(encodeCookie(7, undefined)), { lastId: 7, namespace: undefined });
  assert.equal(decodeCookie(Uint8Array.of(1, 2, 3)), undefined);
});

Deno.test("a discovered registration adds exactly its counted bytes to a reply", () => {
  const varintBytes = (n: number) => n < 128 ? 1 : n < 16_384 ? 2 : 3;
  const empty = encodeMessage({ discoverResponse: { registrations: [] } }).byteLength;
  for (const size of [0, 100, 127, 128, 4096, 20_000]) {
    const registration = { ns: "app", signedPeerRecord: new Uint8Array(size), ttl: 7200n };
    const counted = discoveredRegistrationBytes(registration);
    const one = encodeMessage({ discoverResponse: { registrations: [registration] } }).byteLength;
    // The response's own length field grows by one byte past 127 and 16 383 bytes of body.
    assert.equal(one - empty, counted + varintBytes(counted) - 1);
  }
});
