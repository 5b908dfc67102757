import assert from "node:assert/strict";
import {
  encodeBase64Url,
  isStrongEd25519Key,
  SMALL_ORDER_KEYS,
  vaultIdOf,
  vaultPublicKey,
} from "./identity.ts";

// Edwards25519 arithmetic in affine coordinates, only to check the small-order list.
const P = 2n ** 255n - 19n;
function mod(a: bigint): bigint {
  return ((a % P) + P) % P;
}
function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  for (base = mod(base); exponent > 0n; exponent >>= 1n, base = base * base % P) {
    if (exponent & 1n) result = result * base % P;
  }
  return result;
}
function inverse(a: bigint): bigint {
  return power(a, P - 2n);
}
const D = mod(-121665n * inverse(121666n));
type Point = readonly [bigint, bigint];
function add([x1, y1]: Point, [x2, y2]: Point): Point {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inverse(1n + t)), mod((y1 * y2 + x1 * x2) * inverse(1n - t))];
}
function decode(hex: string): Point {
  const bytes = Uint8Array.fromHex(hex);
  const sign = bytes[31]! >> 7;
  bytes[31]! &= 0x7f;
  const y = BigInt("0x" + bytes.reverse().toHex());
  const x2 = mod((y * y - 1n) * inverse(D * y * y + 1n));
  let x = power(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * power(2n, (P - 1n) / 4n));
  assert.equal(mod(x * x - x2), 0n, `${hex} is not on the curve`);
  if (Number(x & 1n) !== sign) x = mod(-x);
  return [x, y];
}

Deno.test("every listed small-order key is a curve point whose eighth multiple is the identity", () => {
  const encodings = new Set<string>();
  for (const hex of SMALL_ORDER_KEYS) {
    let point = decode(hex);
    for (let i = 0; i < 3; i++) point = add(point, point);
    assert.deepEqual(point, [0n, 1n], hex);
    encodings.add(hex);
  }
  assert.equal(encodings.size, 8, "the torsion subgroup has eight points");
});

Deno.test("vault ids of small-order or non-canonical keys are refused", () => {
  for (const hex of SMALL_ORDER_KEYS) {
    assert.equal(vaultPublicKey(encodeBase64Url(Uint8Array.fromHex(hex))), undefined, hex);
  }
  const yEqualsP = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
  assert.equal(isStrongEd25519Key(Uint8Array.fromHex(yEqualsP)), false);
});

Deno.test("a vault id of a generated key is accepted and only in its canonical spelling", async () => {
  const keys = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const id = vaultIdOf(raw);
  assert.deepEqual(vaultPublicKey(id), raw);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const lastWithUnusedBitSet = alphabet[alphabet.indexOf(id.at(-1)!) | 1]!;
  assert.equal(vaultPublicKey(id.slice(0, 42) + lastWithUnusedBitSet), undefined);
});
