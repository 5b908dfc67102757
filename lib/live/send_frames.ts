/**
 * Envelopes a device sends on its socket, as binary frames: decoded, checked by the same
 * `protocol/validate.ts` rules as HTTP, counted against the socket's limits of sends waiting for
 * their receipt and against the client memory budget, handed to the mode, and answered with a
 * receipt or the refusal.
 *
 * @module
 */
import type { RelayMode } from "../modes/mode.ts";
import type { SocketLimits } from "../limits.ts";
import type { ByteBudget } from "../guard/byte_budget.ts";
import type { LimitName } from "../guard/admission.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { decodeSendFrame, FrameError } from "../protocol/socket_frames.ts";
import { validateIdempotencyKey, validateRecipient, validateSize } from "../protocol/validate.ts";
import type { SocketPeer } from "./handshake.ts";
import { errorReply, type Json, receipt } from "./replies.ts";

/** What handling a socket's send frames needs. */
export interface SendFrameContext {
  readonly mode: RelayMode;
  readonly limits: SocketLimits;
  /** Client bytes held in memory, shared with HTTP. */
  readonly memory: ByteBudget;
  /** Counts a refusal by a limit, for metrics. */
  readonly onLimited?: ((limit: LimitName) => void) | undefined;
  /** The authenticated device the frames come from. */
  readonly peer: SocketPeer;
  /** Writes a reply (a receipt or an error) to the socket. */
  readonly reply: (message: Json) => void;
}

/** The send frames of one socket, and the sends of it still waiting for their receipt. */
export class SendFrames {
  readonly #context: SendFrameContext;
  #sendsInFlight = 0;
  #sendBytesInFlight = 0;

  constructor(context: SendFrameContext) {
    this.#context = context;
  }

  /**
   * Handles one binary frame: replies with the receipt of the send, or with the error that
   * refused it (`bad_frame`, a validation rule, `too_many_in_flight`, a refusal of the mode).
   * Any other error is thrown.
   */
  async handle(bytes: Uint8Array): Promise<void> {
    const { mode, limits, memory, peer, reply } = this.#context;
    let frame;
    try {
      frame = decodeSendFrame(bytes);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      return reply({ type: "error", error: "bad_frame", message: error.message });
    }
    const hold = memory.hold(peer.address);
    let counted = false;
    try {
      validateSize(frame.body.byteLength, limits.maxEnvelopeBytes, "The envelope");
      this.#countSend(frame.body.byteLength);
      counted = true;
      hold.take(frame.body.byteLength);
      const outcome = await mode.send({
        vault: peer.vaultId,
        from: peer.deviceId,
        to: validateRecipient(frame.to, peer.deviceId),
        // A view, not a copy: the frame's buffer is this message's own and nothing reuses it.
        body: frame.body,
        idempotencyKey: validateIdempotencyKey(frame.idempotencyKey),
        origin: peer.address,
      });
      reply(receipt(frame.id, outcome));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      reply(errorReply(error, frame.id));
    } finally {
      hold.release();
      if (counted) {
        this.#sendsInFlight--;
        this.#sendBytesInFlight -= frame.body.byteLength;
      }
    }
  }

  /** Counts a send until its receipt; refuses one beyond the socket's limit of unanswered sends. */
  #countSend(bytes: number): void {
    const { maxSendsInFlight: limit, maxSendBytesInFlight: byteLimit } = this.#context.limits;
    const overBytes = this.#sendsInFlight > 0 && this.#sendBytesInFlight + bytes > byteLimit;
    if (this.#sendsInFlight >= limit || overBytes) {
      this.#context.onLimited?.("socket_in_flight");
      throw new ProtocolError(
        "too_many_in_flight",
        `This socket already has ${this.#sendsInFlight} sends (${this.#sendBytesInFlight} ` +
          `bytes) waiting for their receipt; the limits are ${limit} sends and ${byteLimit} bytes`,
        { retryAfter: 1, details: { limit, limit_bytes: byteLimit } },
      );
    }
    this.#sendsInFlight++;
    this.#sendBytesInFlight += bytes;
  }
}
