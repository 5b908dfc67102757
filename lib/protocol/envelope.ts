/**
 * The envelope and the outcomes of operations on it, as every layer sees them: the store returns
 * these shapes, modes pass them on, transports render them.
 *
 * @module
 */

/** An envelope as devices receive it. `to` null means every other device of the vault. */
export interface Envelope {
  readonly vault: string;
  readonly seq: number;
  readonly from: string;
  readonly to: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly body: Uint8Array;
}

/** A device's request to send an envelope. */
export interface SendRequest {
  readonly vault: string;
  readonly from: string;
  readonly to: string | null;
  readonly body: Uint8Array;
  readonly idempotencyKey?: string | undefined;
  /** The sender's client address key, for per-address budgets; never stored or delivered. */
  readonly origin?: string | undefined;
}

/**
 * What became of an accepted send. A send that is refused (full buffer, full disk) throws a
 * `ProtocolError` (see `errors.ts`) instead.
 */
export type SendOutcome =
  /** Store-and-forward: on disk. `recipients` is how many devices got it live. */
  | {
    readonly kind: "stored";
    readonly seq: number;
    readonly expiresAt: number;
    readonly recipients: number;
  }
  /** A retry of an earlier send with the same idempotency key. */
  | { readonly kind: "duplicate"; readonly seq: number }
  /** Stateless: handed to `recipients` connected devices, kept nowhere. */
  | { readonly kind: "delivered"; readonly seq: number; readonly recipients: number };

/** Which envelopes a device asks for. `after` defaults to its acknowledged cursor. */
export interface BacklogQuery {
  readonly vault: string;
  readonly device: string;
  readonly after?: number | undefined;
  readonly limit: number;
  readonly maxBytes: number;
}

/** A page of backlog. */
export interface BacklogPage {
  readonly envelopes: readonly Envelope[];
  /** The device's acknowledged cursor. */
  readonly acked: number;
  /** The highest seq assigned in the vault. */
  readonly latestSeq: number;
}

/** An accepted acknowledgement. One beyond the latest seq throws `ack_beyond_latest`. */
export interface AckOutcome {
  /**
   * Store-and-forward: the device's cursor after the acknowledgement (it never moves backwards).
   * Stateless keeps no cursor and echoes the acknowledged seq.
   */
  readonly acked: number;
  /** Envelopes deleted because every device now has them. */
  readonly deleted: number;
}

/** A vault's usage against its quota. */
export interface VaultUsage {
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly envelopes: number;
  readonly devices: number;
  readonly latestSeq: number;
}

/** Totals over every vault, for metrics. */
export interface StoreTotals {
  readonly envelopes: number;
  readonly bytes: number;
  readonly vaultsWithData: number;
}
