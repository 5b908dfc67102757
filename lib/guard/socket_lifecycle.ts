/**
 * How the owner of an upgraded socket tells the connection gate what became of it.
 *
 * @module
 */
import type { DeviceSocket } from "../live/device_socket.ts";

/** The gate's view of an upgraded socket, reported by the socket's owner. */
export interface SocketLifecycle {
  /** The socket authenticated: it is no longer dropped to make room. */
  authenticated(): void;
  /**
   * The relay closed (or the peer left) the socket: tear its connection down if it lingers, or
   * at once when `now` (a reader too far behind will never read the close frame).
   */
  closed(now?: boolean): void;
  /**
   * Whether the client has read nothing for a while: the gate's write to it has been waiting
   * for room in the kernel's buffers. Bytes the relay queues behind such a write only fill the
   * buffers of the gate's loopback hop, which hide the stall from the socket's own queue.
   */
  clientBlocked(): boolean;
}

/** A socket lifecycle that does nothing (requests that did not come through a gate). */
export const NO_LIFECYCLE: SocketLifecycle = {
  authenticated: () => {},
  closed: () => {},
  clientBlocked: () => false,
};

/** A WebSocket upgraded from a request: the socket, the answer to return, and its lifecycle. */
export interface UpgradedSocket {
  readonly socket: DeviceSocket;
  readonly response: Response;
  readonly lifecycle: SocketLifecycle;
}
