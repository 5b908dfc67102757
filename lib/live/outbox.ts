/**
 * One socket's outgoing queue, made explicit: the bytes the WebSocket has not yet handed to the
 * network, a high-water mark above which the relay stops pushing, and a deadline after which a
 * reader that stays above it is cut off. One timer runs per lagging socket, only while someone
 * waits for room.
 *
 * A lagging reader is held to the mark in force when it fell behind. Its share of the vault's
 * budget grows when another reader leaves; were that growth to count as room, the first of many
 * stalled readers cut at its deadline would release all the others, each then restarting its
 * clock: a vault whose readers all stopped reading would hold its senders for a deadline per
 * reader instead of one.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { scavenging } from "../guard/scavenge_pacer.ts";
import type { DeviceSocket } from "./device_socket.ts";

/** Bounds of an {@linkcode Outbox}. */
export interface OutboxLimits {
  /** Unsent bytes above which {@linkcode Outbox.hasRoom} is false, for a socket alone. */
  readonly highWaterBytes: number;
  /**
   * Unsent bytes the sockets of one vault hold together: with many readers, each one's
   * high-water mark is its share of this, but never below `minHighWaterBytes`.
   */
  readonly vaultQueueBytes: number;
  /** The smallest high-water mark a share comes to. */
  readonly minHighWaterBytes: number;
  /** A reader above the high-water mark for this long is stalled. */
  readonly slowReaderMs: number;
}

/**
 * How often a lagging socket's queue is looked at; WebSocket has no "drained" event. At once at
 * first, then ever less often up to `max` while it still lags: a stateless sender publishes only
 * when its readers have room, so a queue that drains between two looks leaves the connection idle
 * (looks every 1 ms cost a 64 KiB stream about a quarter of its rate, every 5 ms over half),
 * while a reader that stopped reading costs a look every 5 ms.
 */
const POLL_MS = { first: 0, max: 5 };

/** The outgoing side of a socket. */
export class Outbox {
  #waiters: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pollMs = POLL_MS.first;
  #slowSince: number | undefined;
  /** The high-water mark when the reader fell behind: it has room again only below it. */
  #lagMark: number | undefined;
  #closed = false;

  constructor(
    private readonly socket: DeviceSocket,
    private readonly options: {
      readonly limits: OutboxLimits;
      readonly clock: Clock;
      /** How many sockets share the vault's queue budget now (this one included). */
      readonly sharedBy?: () => number;
      /**
       * Whether the client reads nothing now, seen below the socket (the connection gate's
       * write to it is waiting): the socket then has no room, however little it queues.
       */
      readonly clientBlocked?: () => boolean;
      /** Called once when the reader stayed above the high-water mark too long. */
      readonly onStalled: () => void;
    },
  ) {}

  /** Bytes queued and not yet sent. */
  get queuedBytes(): number {
    return this.socket.bufferedAmount;
  }

  /** Unsent bytes above which this socket has no room: its share of the vault's budget. */
  get highWaterBytes(): number {
    const { highWaterBytes, vaultQueueBytes, minHighWaterBytes } = this.options.limits;
    const share = Math.floor(vaultQueueBytes / Math.max(1, this.options.sharedBy?.() ?? 1));
    return Math.max(minHighWaterBytes, Math.min(highWaterBytes, share));
  }

  /** Whether the socket is open and below its high-water mark
   * (while it lags: the one it fell behind at).
   */
  get hasRoom(): boolean {
    return this.isOpen && this.queuedBytes <= (this.#lagMark ?? this.highWaterBytes) &&
      !this.options.clientBlocked?.();
  }

  /** Whether frames can still be sent. */
  get isOpen(): boolean {
    return !this.#closed && this.socket.state === "open";
  }

  /** Queues a frame if the socket is open; returns whether it was queued. */
  send(frame: string | Uint8Array<ArrayBuffer>): boolean {
    if (!this.isOpen) return false;
    this.socket.send(frame);
    scavenging.made(typeof frame === "string" ? frame.length : frame.byteLength);
    return true;
  }

  /** Resolves once there is room again, or the socket closed or stalled. */
  whenRoom(): Promise<void> {
    if (this.hasRoom || !this.isOpen) {
      this.#slowSince = undefined;
      this.#lagMark = undefined;
      return Promise.resolve();
    }
    this.#lagMark ??= this.highWaterBytes;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push(resolve);
    this.#watch();
    return promise;
  }

  /** Stops watching and releases every waiter; the socket itself is closed by its owner. */
  close(): void {
    this.#closed = true;
    this.#release();
  }

  #watch(): void {
    if (this.#timer !== undefined) return;
    this.#slowSince ??= this.options.clock.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.hasRoom || !this.isOpen) return this.#release();
      if (this.options.clock.now() - this.#slowSince! > this.options.limits.slowReaderMs) {
        this.#release();
        return this.options.onStalled();
      }
      this.#pollMs = Math.min(POLL_MS.max, Math.max(1, this.#pollMs * 2));
      this.#watch();
    }, this.#pollMs);
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pollMs = POLL_MS.first;
    this.#slowSince = undefined;
    this.#lagMark = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
