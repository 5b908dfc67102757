/**
 * Vault key pairs: Ed25519 keys made fresh or from a seed, and the vault id they certify.
 * Deriving the seed from the vault secret is the application's business.
 *
 * @module
 */
import { vaultIdOf } from "../protocol/identity.ts";

/** PKCS#8 prefix of a raw 32-byte Ed25519 seed (RFC 8410); the seed follows it. */
const PKCS8_ED25519_PREFIX = [
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
] as const;

/**
 * Creates a new extractable Ed25519 key pair for a vault.
 *
 * @example
 * ```ts
 * const keys = await generateVaultKeys();
 * const vaultId = await vaultIdOfKeys(keys);
 * ```
 */
export async function generateVaultKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

/**
 * Imports an Ed25519 key pair from its 32-byte seed (the RFC 8032 private key).
 *
 * @throws {RangeError} when the seed is not 32 bytes long.
 */
export async function vaultKeysFromSeed(seed: Uint8Array): Promise<CryptoKeyPair> {
  if (seed.length !== 32) throw new RangeError(`Expected a 32-byte seed, got ${seed.length} bytes`);
  const pkcs8 = new Uint8Array([...PKCS8_ED25519_PREFIX, ...seed]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  // WebCrypto derives the public key; it is read back through the private key's JWK.
  const { x } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: x! },
    "Ed25519",
    true,
    ["verify"],
  );
  return { privateKey, publicKey };
}

/** The vault id (unpadded base64url public key) of a key pair. */
export async function vaultIdOfKeys(keys: CryptoKeyPair): Promise<string> {
  return vaultIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey)));
}
