/**
 * How envelopes reach one authenticated socket. Stateless: each published envelope is written to
 * the outbox at once (it is published only once the vault's readers have room, see
 * `Hub.publishWhenReady`), so a slow reader holds at most its high-water mark plus one envelope.
 * Store-and-forward: the socket is pushed to only while it keeps up; otherwise a pump reads pages
 * from the store in seq order once the reader has room, so a slow reader holds at most its
 * high-water mark plus one page.
 *
 * @module
 */
import type { RelayMode } from "../modes/mode.ts";
import type { SocketLimits } from "../limits.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { encodeEnvelopeFrame } from "../protocol/socket_frames.ts";
import type { SocketPeer } from "./handshake.ts";
import type { Outbox } from "./outbox.ts";

/**
 * Each published envelope is encoded once, however many sockets it goes to: the readers of a
 * vault share one frame instead of holding a copy each.
 */
const frames = new WeakMap<Envelope, Uint8Array<ArrayBuffer>>();

function frameOf(envelope: Envelope): Uint8Array<ArrayBuffer> {
  let frame = frames.get(envelope);
  if (!frame) {
    frame = encodeEnvelopeFrame(envelope);
    frames.set(envelope, frame);
  }
  return frame;
}

/** Delivery to one socket. */
export interface Delivery {
  /** Hands over a published envelope; false if the socket could not take it. */
  deliver(envelope: Envelope): boolean;
  /** Starts pushing what is already waiting (the backlog). */
  start(): void;
}

/** What a delivery writes to and reads from. */
export interface DeliveryParts {
  readonly outbox: Outbox;
  readonly peer: SocketPeer;
  readonly limits: SocketLimits;
  /** The seq after which the device wants envelopes. */
  readonly after: number;
}

/** The delivery for `mode`. */
export function createDelivery(mode: RelayMode, parts: DeliveryParts): Delivery {
  return mode.buffering === "enabled" ? new StorePump(mode, parts) : new DirectDelivery(parts);
}

/**
 * Stateless: write at once. The hub publishes only while the reader has room, so its queue stays
 * within the high-water mark plus one envelope; a reader stuck above the mark is cut by its
 * outbox after `slowReaderMs`.
 */
class DirectDelivery implements Delivery {
  constructor(private readonly parts: DeliveryParts) {}

  start(): void {}

  deliver(envelope: Envelope): boolean {
    return this.parts.outbox.send(frameOf(envelope));
  }
}

/**
 * Body bytes of one backlog page for a reader whose high-water mark is `mark` (a page lands in
 * its outbox whole). A reader with the lone reader's mark gets up to twice it, so the next page
 * is there while the last one drains. Readers that share their vault's queue budget get pages of
 * their share, so many lagging readers hold about that budget, as they do for live frames.
 */
export function backlogPageBytes(
  limits: Pick<SocketLimits, "highWaterBytes" | "pumpPageBytes">,
  mark: number,
): number {
  return Math.min(limits.pumpPageBytes, mark < limits.highWaterBytes ? mark : 2 * mark);
}

/** Store-and-forward: live while the reader keeps up, else pages from the store by cursor. */
class StorePump implements Delivery {
  /** The last seq handed to the outbox. */
  #sentUpTo: number;
  #caughtUp = false;
  #pumping = false;
  /** An envelope was published while the pump was reading a page. */
  #published = false;

  constructor(private readonly mode: RelayMode, private readonly parts: DeliveryParts) {
    this.#sentUpTo = parts.after;
  }

  start(): void {
    void this.#pump();
  }

  deliver(envelope: Envelope): boolean {
    const { outbox } = this.parts;
    if (!outbox.isOpen) return false;
    if (this.#caughtUp && !this.#pumping && outbox.hasRoom) {
      outbox.send(frameOf(envelope));
      this.#sentUpTo = envelope.seq;
      return true;
    }
    this.#caughtUp = false;
    this.#published = true;
    void this.#pump();
    return true;
  }

  /** Sends stored envelopes after `#sentUpTo`, in seq order, pausing while the reader lags. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const { outbox, peer, limits } = this.parts;
    try {
      while (outbox.isOpen) {
        if (!outbox.hasRoom) {
          await outbox.whenRoom();
          continue;
        }
        this.#published = false;
        const page = await this.mode.backlog({
          vault: peer.vaultId,
          device: peer.deviceId,
          after: this.#sentUpTo,
          limit: limits.pumpPageEnvelopes,
          maxBytes: backlogPageBytes(limits, outbox.highWaterBytes),
        });
        if (page.envelopes.length === 0 && !this.#published) {
          this.#caughtUp = true;
          return;
        }
        for (const envelope of page.envelopes) {
          if (!outbox.send(encodeEnvelopeFrame(envelope))) return;
          this.#sentUpTo = envelope.seq;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }
}
