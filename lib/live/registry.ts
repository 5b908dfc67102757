/**
 * Every open device socket, so that a stopping relay can close them all.
 *
 * @module
 */
import { CLOSE } from "../protocol/close_codes.ts";

/** What the registry needs of a socket. */
export interface ClosableSocket {
  /** Closes with `code` and resolves once the closing handshake is done. */
  closeAndWait(code: number, reason: string): Promise<void>;
  /** Bytes queued and not yet sent. */
  readonly queuedBytes: number;
}

/** Open sockets, counted for metrics. */
export class SocketRegistry<S extends ClosableSocket = ClosableSocket> {
  readonly #sockets = new Set<S>();

  /** `onCountChanged` hears the number of open sockets after each change (for metrics). */
  constructor(private readonly onCountChanged: (count: number) => void = () => {}) {}

  /** Tracks a socket until it closes. */
  add(socket: S): void {
    this.#sockets.add(socket);
    this.onCountChanged(this.#sockets.size);
  }

  /** Forgets a closed socket. */
  delete(socket: S): void {
    if (this.#sockets.delete(socket)) this.onCountChanged(this.#sockets.size);
  }

  /** Open sockets. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Bytes every open socket has queued and not yet sent (read at scrape time). */
  get queuedBytes(): number {
    let bytes = 0;
    for (const socket of this.#sockets) bytes += socket.queuedBytes;
    return bytes;
  }

  /** The most one open socket has queued and not yet sent. */
  get largestQueue(): number {
    let bytes = 0;
    for (const socket of this.#sockets) bytes = Math.max(bytes, socket.queuedBytes);
    return bytes;
  }

  /**
   * Closes every socket with 4012 (relay restarting) so devices reconnect later, and waits up
   * to `timeoutMs` for the closing handshakes.
   */
  async closeAll(timeoutMs: number): Promise<void> {
    const closing = [...this.#sockets].map((socket) =>
      socket.closeAndWait(CLOSE.restarting, "relay restarting; reconnect later")
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([Promise.all(closing), timeout]);
    clearTimeout(timer);
    this.#sockets.clear();
    this.onCountChanged(0);
  }
}
