/**
 * WebSocket close codes the relay sends, documented in docs/PROTOCOL.md section 6.
 *
 * @module
 */

/** Close codes the relay uses; all in the application range 4000-4999. */
export const CLOSE = {
  /** The challenge signature does not verify, or the first message is not an auth message. */
  authFailed: 4001,
  /** A message the relay cannot accept at this point: a second auth message, a bad `after`. */
  protocolViolation: 4002,
  /** No verified auth message within the auth deadline. */
  authTimeout: 4008,
  /** The reader fell too far behind. */
  slowReader: 4009,
  /** Nothing arrived from the device for two idle periods, though the relay pinged it. */
  idleTimeout: 4010,
  /**
   * The relay is stopping; reconnect later. Mirrors 1012 (service restart), which the WebSocket
   * API does not let a program send.
   */
  restarting: 4012,
  /** The vault already has its limit of authenticated sockets. */
  tooManySockets: 4029,
} as const;

/** RFC 6455 codes the relay's own WebSocket sends when a device breaks the WebSocket protocol. */
export const WEBSOCKET_FAILURE = {
  /** An unmasked or compressed frame, an unknown opcode, a malformed control or close frame. */
  protocolError: 1002,
  /** Text (or a close reason) that is not UTF-8. */
  invalidData: 1007,
  /** A message larger than the socket takes now. */
  tooBig: 1009,
} as const;
