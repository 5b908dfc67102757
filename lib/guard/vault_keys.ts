/**
 * Ed25519 verification with vault keys, shared by HTTP signatures and the socket handshake.
 * Verification runs synchronously on this thread with `node:crypto` (about 30 µs): cheaper than
 * handing each signature to WebCrypto's worker threads and back. Imported keys are cached
 * (importing costs more than verifying), least recently used first out.
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";

/** A signature and the bytes it should sign. */
export interface SignedBytes {
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly data: Uint8Array<ArrayBuffer>;
}

/** Verifies signatures with vault public keys, keeping up to `capacity` imported keys. */
export class VaultKeys {
  readonly #keys = new Map<string, KeyObject>();

  constructor(readonly capacity: number) {}

  /** Whether `signed.signature` is the vault key's Ed25519 signature of `signed.data`. */
  verify(vaultId: string, rawKey: Uint8Array<ArrayBuffer>, signed: SignedBytes): boolean {
    try {
      return verify(null, signed.data, this.#key(vaultId, rawKey), signed.signature);
    } catch {
      // A key that will not import, or a signature of the wrong length, verifies nothing.
      return false;
    }
  }

  /** Imported keys held. */
  get size(): number {
    return this.#keys.size;
  }

  #key(vaultId: string, raw: Uint8Array<ArrayBuffer>): KeyObject {
    let key = this.#keys.get(vaultId);
    if (key) {
      this.#keys.delete(vaultId);
    } else {
      const x = raw.toBase64({ alphabet: "base64url", omitPadding: true });
      key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
      if (this.#keys.size >= this.capacity) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(vaultId, key);
    return key;
  }
}
