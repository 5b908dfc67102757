/**
 * What the relay says on a socket, as JSON text frames: the socket renderer of
 * {@linkcode ProtocolError} (its HTTP twin is `http/errors.ts`) and the receipts of sends.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import type { SendOutcome } from "../protocol/envelope.ts";

/** A JSON control message. */
export type Json = Record<string, unknown>;

/** The socket error message for `error`, echoing the request's `id` when it had one. */
export function errorReply(error: ProtocolError, id?: number): Json {
  return {
    type: "error",
    ...(id === undefined ? {} : { id }),
    error: error.code,
    message: error.message,
    ...error.details,
    ...(error.retryAfter === undefined ? {} : { retry_after: error.retryAfter }),
  };
}

/** The receipt of an accepted send. */
export function receipt(id: number, outcome: SendOutcome): Json {
  switch (outcome.kind) {
    case "stored":
      return { type: "stored", id, seq: outcome.seq, recipients: outcome.recipients };
    case "duplicate":
      return { type: "stored", id, seq: outcome.seq, duplicate: true };
    case "delivered":
      return { type: "delivered", id, seq: outcome.seq, recipients: outcome.recipients };
  }
}

/** Parses a text frame as a JSON object, or `undefined`. */
export function parseMessage(text: string): Json | undefined {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Json
      : undefined;
  } catch {
    return undefined;
  }
}
