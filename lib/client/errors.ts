/**
 * The one error the reference client throws for an answer of the relay.
 *
 * @module
 */

/**
 * An error answer from the relay: an HTTP error response, an error frame on a socket (status 0),
 * or a socket that closed with requests pending (status 0, code `closed`).
 *
 * @example
 * ```ts
 * try {
 *   await client.send(body);
 * } catch (error) {
 *   if (error instanceof RelayError && error.code === "buffer_full") await client.backlog();
 * }
 * ```
 */
export class RelayError extends Error {
  /** Always `RelayError`. */
  override name = "RelayError";

  /** Builds the error from the relay's status, error code, message and whole JSON body. */
  constructor(
    /** HTTP status; 0 for an error frame or a closed socket. */
    readonly status: number,
    /** The relay's error code, e.g. `buffer_full`. */
    readonly code: string,
    message: string,
    /** The whole JSON error body. */
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}
