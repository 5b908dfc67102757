/**
 * The refusals both modes throw, built in one place so a full buffer or a bad ack reads the same
 * whichever mode and transport meets it.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

/** An acknowledgement beyond the vault's latest seq. */
export function ackBeyondLatest(seq: number, latest: number): ProtocolError {
  return new ProtocolError(
    "ack_beyond_latest",
    `Cannot acknowledge seq ${seq}: the latest seq of this vault is ${latest}`,
    { details: { latest_seq: latest } },
  );
}

/** An envelope that does not fit the vault's quota; nothing was stored or dropped. */
export function bufferFull(used: number, limit: number): ProtocolError {
  return new ProtocolError(
    "buffer_full",
    `The vault's buffer holds ${used} of ${limit} bytes and this envelope does not fit; ` +
      "wait for devices to acknowledge",
    { details: { used, limit } },
  );
}

/** The relay's disk is full; nothing of the send was stored. */
export function storageFull(): ProtocolError {
  return new ProtocolError("storage_full", "The relay's disk is full; nothing was stored", {
    retryAfter: 60,
  });
}
