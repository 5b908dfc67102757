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
export function bufferFull(
  full: { used: number; limit: number; envelopes: number; maxEnvelopes: number },
): ProtocolError {
  const { used, limit, envelopes, maxEnvelopes } = full;
  const which = envelopes >= maxEnvelopes
    ? `holds its limit of ${maxEnvelopes} envelopes`
    : `holds ${used} of ${limit} bytes and this envelope does not fit`;
  return new ProtocolError(
    "buffer_full",
    `The vault's buffer ${which}; wait for devices to acknowledge`,
    { details: { used, limit, envelopes, max_envelopes: maxEnvelopes } },
  );
}

/** The relay's disk (or its database cap) is full; nothing of the write was kept. */
export function storageFull(): ProtocolError {
  return new ProtocolError("storage_full", "The relay's storage is full; nothing was changed", {
    retryAfter: 60,
  });
}
