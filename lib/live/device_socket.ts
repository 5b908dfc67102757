/**
 * The WebSocket a device session runs on, as the session needs it: open, messages, closed, a
 * send queue it can measure. Two kinds stand behind it: the connection gate's own
 * (`guard/raw_websocket.ts`, spoken on the client's TCP connection) and Deno's, upgraded by
 * `Deno.serve` (without a gate, or for an upgrade that came after other requests on a
 * connection), adapted by {@linkcode fromWebSocket}.
 *
 * @module
 */

/** Where a socket is in its life, as `WebSocket.readyState` names it. */
export type SocketState = "connecting" | "open" | "closing" | "closed";

/** What a socket tells its session; each at most once, except `message`. */
export interface SocketEvents {
  /** The handshake is done: frames can be sent. */
  open(): void;
  /** A whole message: binary as an `ArrayBuffer` of its own, text as a string. */
  message(data: ArrayBuffer | string): void;
  /** The connection is gone, however it ended. */
  closed(): void;
}

/** One device's socket. */
export interface DeviceSocket {
  readonly state: SocketState;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Queues a text (string) or binary frame; ignored unless open. */
  send(frame: string | Uint8Array<ArrayBuffer>): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Sets who hears the socket's events (once, before it opens). */
  listen(events: SocketEvents): void;
}

const STATES: readonly SocketState[] = ["connecting", "open", "closing", "closed"];

/** A `WebSocket` from `Deno.upgradeWebSocket` as a {@linkcode DeviceSocket}. */
export function fromWebSocket(socket: WebSocket): DeviceSocket {
  socket.binaryType = "arraybuffer";
  return {
    get state() {
      return STATES[socket.readyState] ?? "closed";
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (frame) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(frame);
    },
    close: (code, reason) => socket.close(code, reason),
    listen: (events) => {
      let ended = false;
      const closed = () => {
        if (ended) return;
        ended = true;
        events.closed();
      };
      socket.onopen = () => events.open();
      socket.onmessage = (event) => events.message(event.data);
      socket.onclose = closed;
      socket.onerror = closed;
    },
  };
}
