/**
 * Vault and device identifiers. A vault id is the unpadded base64url encoding of the vault's
 * 32-byte Ed25519 public key, so it is self-certifying; a device id is a label chosen by the
 * device.
 *
 * @module
 */

const VAULT_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Whether `text` is a well-formed idempotency key: 1 to 128 visible ASCII characters. */
export function isIdempotencyKey(text: string): boolean {
  return IDEMPOTENCY_KEY_PATTERN.test(text);
}

/** Whether `text` is a well-formed device id: 1 to 64 of `A-Z a-z 0-9 _ -`. */
export function isDeviceId(text: string): boolean {
  return DEVICE_ID_PATTERN.test(text);
}

/**
 * The canonical encodings of the eight Ed25519 points of small order (the torsion subgroup).
 * For such a key a signature can be made without any private key, so no vault may use one.
 * `identity_test.ts` checks each is a point P with 8P = identity.
 */
export const SMALL_ORDER_KEYS: readonly string[] = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];
const SMALL_ORDER = new Set(SMALL_ORDER_KEYS);

/** Whether the 255-bit y of an Ed25519 encoding is at least p = 2^255 - 19 (a second spelling). */
function hasNonCanonicalY(bytes: Uint8Array): boolean {
  if ((bytes[31]! & 0x7f) !== 0x7f || bytes[0]! < 0xed) return false;
  for (let i = 1; i < 31; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/** Whether 32 bytes can be a vault key: canonical and not of small order. */
export function isStrongEd25519Key(bytes: Uint8Array): boolean {
  return bytes.length === 32 && !hasNonCanonicalY(bytes) && !SMALL_ORDER.has(bytes.toHex());
}

/**
 * The 32 public-key bytes of a vault id, or `undefined` if it is not a canonical vault id or
 * names a key nobody needs a secret for (small order, non-canonical).
 */
export function vaultPublicKey(vaultId: string): Uint8Array | undefined {
  if (!VAULT_ID_PATTERN.test(vaultId)) return undefined;
  const bytes = Uint8Array.fromBase64(vaultId, { alphabet: "base64url" });
  // Only one spelling per key: the last character's two unused bits must be zero.
  if (encodeBase64Url(bytes) !== vaultId) return undefined;
  return isStrongEd25519Key(bytes) ? bytes : undefined;
}

/** Unpadded base64url, as used for vault ids. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The vault id of a raw 32-byte Ed25519 public key. */
export function vaultIdOf(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw new RangeError(`Cannot make a vault id from ${publicKey.length} bytes: expected 32`);
  }
  return encodeBase64Url(publicKey);
}
