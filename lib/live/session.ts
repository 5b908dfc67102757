/**
 * One device's WebSocket from challenge to close: the handshake (`handshake.ts`), then envelopes
 * as binary frames both ways (the device's own sends in `send_frames.ts`) and JSON text frames
 * for control (`control.ts`). Outgoing frames go through the socket's {@linkcode Outbox}. In
 * store-and-forward mode envelopes are pumped from the store in seq order, so a slow reader costs
 * the relay no memory beyond one page; in stateless mode a reader that falls too far behind is
 * disconnected.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock.ts";
import type { Hub, PresenceEvent } from "./hub.ts";
import { LOG_CATEGORY } from "../log.ts";
import type { RelayMode } from "../modes/mode.ts";
import type { PresenceBoard } from "./presence.ts";
import type { SocketLimits } from "../limits.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { CLOSE } from "../protocol/close_codes.ts";
import { answerControl } from "./control.ts";
import { IdleWatch } from "./idle.ts";
import { createDelivery } from "./delivery.ts";
import type { VaultKeys } from "../guard/vault_keys.ts";
import type { ByteBudget } from "../guard/byte_budget.ts";
import type { LimitName } from "../guard/admission.ts";
import type { SocketLifecycle } from "../guard/socket_lifecycle.ts";
import { HandshakeError, newChallenge, type SocketPeer, verifyAuth } from "./handshake.ts";
import { Outbox } from "./outbox.ts";
import { errorReply, type Json, parseMessage } from "./replies.ts";
import { SendFrames } from "./send_frames.ts";
import type { DeviceSocket } from "./device_socket.ts";

export type { SocketPeer };

const log = getLogger([LOG_CATEGORY, "socket"]);

/** What a device socket needs from the relay. */
export interface SessionParts {
  readonly mode: RelayMode;
  readonly hub: Hub;
  readonly presence: PresenceBoard;
  readonly clock: Clock;
  readonly keys: VaultKeys;
  readonly limits: SocketLimits;
  /** Client bytes held in memory, shared with HTTP. */
  readonly memory: ByteBudget;
  /** Counts a refusal by a limit, for metrics. */
  readonly onLimited?: (limit: LimitName) => void;
  /** Runs for each control message once authenticated; throws a ProtocolError to refuse it. */
  readonly onControl?: (vaultId: string) => void;
  /** The connection's gate: told when the socket authenticates and when it is done. */
  readonly lifecycle?: SocketLifecycle;
  /** Called once when the socket is done, however it ended. */
  readonly onClosed?: (session: DeviceSession) => void;
}

/** Where a session is in its life. */
type Phase = "challenged" | "verifying" | "ready" | "closed";

/** Runs one device socket from challenge to close. */
export class DeviceSession {
  readonly #challenge = newChallenge();
  readonly #outbox: Outbox;
  #phase: Phase = "challenged";
  #unsubscribe: (() => void) | undefined;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #idle: IdleWatch | undefined;
  readonly #sends: SendFrames;
  readonly #socketClosed = Promise.withResolvers<void>();

  constructor(
    private readonly socket: DeviceSocket,
    private readonly peer: SocketPeer,
    private readonly parts: SessionParts,
  ) {
    this.#outbox = new Outbox(socket, {
      limits: parts.limits,
      clock: parts.clock,
      sharedBy: () => parts.hub.subscriberCount(peer.vaultId),
      clientBlocked: () => parts.lifecycle?.clientBlocked() ?? false,
      onStalled: () => this.close(CLOSE.slowReader, "slow reader: too far behind"),
    });
    this.#sends = new SendFrames({ ...parts, peer, reply: (message) => this.#send(message) });
    socket.listen({
      open: () => this.#open(),
      message: (data) => this.#receive(data),
      closed: () => {
        this.#finish();
        this.#socketClosed.resolve();
      },
    });
  }

  /** Bytes queued for this device and not yet sent. */
  get queuedBytes(): number {
    return this.#outbox.queuedBytes;
  }

  /** Closes the socket with `code`, telling the device why. */
  close(code: number, reason: string): void {
    const { state } = this.socket;
    if (state === "connecting" || state === "open") this.socket.close(code, reason);
    // A reader too far behind will never read the close frame: free its connection now.
    this.#finish(code === CLOSE.slowReader);
  }

  /** Closes the socket and resolves once the closing handshake is done. */
  closeAndWait(code: number, reason: string): Promise<void> {
    if (this.socket.state === "closed") return Promise.resolve();
    this.close(code, reason);
    return this.#socketClosed.promise;
  }

  /**
   * Resolves when the reader has room below its high-water mark, or has been cut off as too
   * slow. Stateless senders wait on it.
   */
  settled(): Promise<void> {
    return this.#outbox.whenRoom();
  }

  #send(message: Json): void {
    this.#outbox.send(JSON.stringify(message));
  }

  #open(): void {
    this.#send({ type: "challenge", challenge: this.#challenge });
    this.#authTimer = setTimeout(
      () => this.close(CLOSE.authTimeout, "authentication timeout"),
      this.parts.limits.authTimeoutMs,
    );
  }

  #finish(tearDownNow = false): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    clearTimeout(this.#authTimer);
    this.#idle?.stop();
    this.#outbox.close();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.parts.lifecycle?.closed(tearDownNow);
    this.parts.onClosed?.(this);
  }

  #receive(data: ArrayBuffer | string): void {
    this.#idle?.heard();
    switch (this.#phase) {
      case "challenged":
        this.#phase = "verifying";
        this.#authenticate(typeof data === "string" ? parseMessage(data) : undefined)
          .catch((error) => this.#fail(error));
        return;
      case "verifying":
        // One auth message per socket: a second one (or anything before `ready`) is a violation.
        return this.#refuseAndClose(
          new ProtocolError("bad_message", "Wait for ready before sending more messages"),
          CLOSE.protocolViolation,
        );
      case "ready":
        if (data instanceof ArrayBuffer) {
          this.#sends.handle(new Uint8Array(data)).catch((error) => this.#fail(error));
        } else {
          this.#control(data).catch((error) => this.#fail(error));
        }
    }
  }

  #refuseAndClose(refusal: ProtocolError, code: number): void {
    this.#send(errorReply(refusal));
    this.close(code, refusal.message.slice(0, 120));
  }

  #fail(error: unknown): void {
    if (error instanceof HandshakeError) {
      const code = error.kind === "auth" ? CLOSE.authFailed : CLOSE.protocolViolation;
      return this.#refuseAndClose(error.refusal, code);
    }
    log.error("Socket message failed: {error}", { error });
    this.#send({ type: "error", error: "internal", message: "The relay hit an unexpected error" });
  }

  async #authenticate(message: Json | undefined): Promise<void> {
    const after = verifyAuth(message, {
      challenge: this.#challenge,
      peer: this.peer,
      keys: this.parts.keys,
    });
    clearTimeout(this.#authTimer);
    if (this.#phase !== "verifying") return;
    const { maxSocketsPerVault } = this.parts.limits;
    // Counted after authentication, so nobody can use up a vault's sockets by naming it.
    if (this.parts.hub.socketCount(this.peer.vaultId) >= maxSocketsPerVault) {
      return this.#refuseAndClose(
        new ProtocolError(
          "too_many_sockets",
          `This vault already has ${maxSocketsPerVault} sockets open`,
        ),
        CLOSE.tooManySockets,
      );
    }
    await this.#ready(after);
  }

  async #ready(after: number | undefined): Promise<void> {
    const { mode, hub, presence } = this.parts;
    const { vaultId, deviceId } = this.peer;
    await mode.touch(vaultId, deviceId);
    const page = await mode.backlog({
      vault: vaultId,
      device: deviceId,
      after,
      limit: 1,
      maxBytes: 1,
    });
    if (this.#phase !== "verifying") return;
    this.#phase = "ready";
    this.parts.lifecycle?.authenticated();
    this.#send({
      type: "ready",
      mode: mode.name,
      acked: page.acked,
      latest_seq: page.latestSeq,
      connected: [...hub.devicesConnected(vaultId)],
      presence: presence.list(vaultId).map((entry) => entry.device),
    });
    const delivery = createDelivery(mode, {
      outbox: this.#outbox,
      peer: this.peer,
      limits: this.parts.limits,
      after: after ?? page.acked,
    });
    this.#unsubscribe = hub.subscribe(vaultId, {
      device: deviceId,
      deliver: (envelope) => delivery.deliver(envelope),
      settled: () => this.settled(),
      hasRoom: () => this.#outbox.hasRoom,
      onPresence: (event: PresenceEvent) => this.#send(event as unknown as Json),
    });
    this.#idle = new IdleWatch(this.parts.limits.idleTimeoutSeconds, {
      ping: () => this.#send({ type: "ping" }),
      timeout: () => this.close(CLOSE.idleTimeout, "idle: no answer to ping"),
    });
    delivery.start();
    log.debug("Socket authenticated");
  }

  async #control(text: string): Promise<void> {
    const message = parseMessage(text);
    // A control message may carry an id; its reply echoes it, so clients can pair them.
    const id = Number.isSafeInteger(message?.id) ? message!.id as number : undefined;
    try {
      const answer = await answerControl(message, { ...this.parts, peer: this.peer });
      if (answer) this.#send({ ...answer, ...(id === undefined ? {} : { id }) });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#send(errorReply(error, id));
    }
  }
}
