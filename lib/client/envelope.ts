/**
 * The envelope as the client receives it, from a backlog page or a socket.
 *
 * @module
 */

/** An envelope delivered to this device. */
export interface ReceivedEnvelope {
  /** The relay's per-vault sequence number. */
  readonly seq: number;
  /** The sending device. */
  readonly from: string;
  /** The one recipient device, or `null` for every other device of the vault. */
  readonly to: string | null;
  /** Milliseconds since the epoch when the relay accepted it. */
  readonly createdAt: number;
  /**
   * Milliseconds since the epoch when the relay drops it; 0 from a socket or a binary backlog
   * page, which do not say.
   */
  readonly expiresAt: number;
  /** The ciphertext. */
  readonly body: Uint8Array;
}
