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

/** The 32 public-key bytes of a vault id, or `undefined` if it is not a canonical vault id. */
export function vaultPublicKey(vaultId: string): Uint8Array | undefined {
  if (!VAULT_ID_PATTERN.test(vaultId)) return undefined;
  const bytes = Uint8Array.fromBase64(vaultId, { alphabet: "base64url" });
  // Only one spelling per key: the last character's two unused bits must be zero.
  return encodeBase64Url(bytes) === vaultId ? bytes : undefined;
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
