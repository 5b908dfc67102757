/**
 * Ed25519 verification with vault keys, shared by HTTP signatures and the socket handshake.
 * Imported keys are cached (importing costs more than verifying), least recently used first out.
 *
 * @module
 */

/** A signature and the bytes it should sign. */
export interface SignedBytes {
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly data: Uint8Array<ArrayBuffer>;
}

/** Verifies signatures with vault public keys, keeping up to `capacity` imported keys. */
export class VaultKeys {
  readonly #keys = new Map<string, Promise<CryptoKey>>();

  constructor(readonly capacity: number) {}

  /** Whether `signed.signature` is the vault key's Ed25519 signature of `signed.data`. */
  async verify(
    vaultId: string,
    rawKey: Uint8Array<ArrayBuffer>,
    signed: SignedBytes,
  ): Promise<boolean> {
    try {
      return await crypto.subtle.verify(
        "Ed25519",
        await this.#key(vaultId, rawKey),
        signed.signature,
        signed.data,
      );
    } catch {
      // A key WebCrypto will not import, or a signature of the wrong length, verifies nothing.
      return false;
    }
  }

  /** Imported keys held. */
  get size(): number {
    return this.#keys.size;
  }

  #key(vaultId: string, raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
    let key = this.#keys.get(vaultId);
    if (key) {
      this.#keys.delete(vaultId);
    } else {
      key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      if (this.#keys.size >= this.capacity) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(vaultId, key);
    return key;
  }
}
