/**
 * One device's WebSocket: challenge-response authentication, then envelopes as binary frames
 * both ways and JSON text frames for control. In store-and-forward mode envelopes are pumped
 * from the store in seq order, so a slow reader costs the relay no memory beyond one page; in
 * stateless mode a reader that falls too far behind is disconnected.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock.ts";
import type { Hub, PresenceEvent } from "./hub.ts";
import { isDeviceId, isIdempotencyKey } from "../protocol/identity.ts";
import { LOG_CATEGORY } from "../log.ts";
import type { Envelope, RelayMode, SendOutcome } from "../modes/mode.ts";
import type { PresenceBoard } from "./presence.ts";
import { StorageFullError } from "../store/envelopes.ts";
import {
  decodeSendFrame,
  encodeEnvelopeFrame,
  FrameError,
  socketAuthMessage,
} from "../protocol/socket_frames.ts";

const log = getLogger([LOG_CATEGORY, "socket"]);

/** Close codes the relay uses. */
export const CLOSE = {
  /**
   * The relay is stopping; reconnect later. Mirrors 1012 (service restart), which the WebSocket
   * API does not let a program send.
   */
  restarting: 4012,
  authFailed: 4001,
  authTimeout: 4008,
  slowReader: 4009,
  tooManySockets: 4029,
} as const;

/** Limits of a device socket. */
export interface SocketLimits {
  readonly maxEnvelopeBytes: number;
  readonly authTimeoutMs: number;
  /** Above this many unsent bytes the relay stops pushing until the reader catches up. */
  readonly highWaterBytes: number;
  /** A reader above the high water mark for this long is disconnected. */
  readonly slowReaderMs: number;
  /** Seconds between pings on an idle socket; an unanswered ping closes it. 0 disables. */
  readonly socketIdleTimeoutSeconds: number;
  /** How long a request body may take; presence PUT shares it with the vault API. */
  readonly bodyTimeoutMs?: number;
  /** Authenticated sockets one vault may hold open. */
  readonly maxSocketsPerVault: number;
}

/** What a device socket needs from the relay. */
export interface SocketParts {
  readonly mode: RelayMode;
  readonly hub: Hub;
  readonly presence: PresenceBoard;
  readonly clock: Clock;
  readonly limits: SocketLimits;
  /** Called when the relay closes a socket. */
  readonly onClosed?: (socket: DeviceSocket) => void;
}

/** Who is at the other end, as claimed before authentication. */
export interface SocketPeer {
  readonly vaultId: string;
  readonly vaultKey: Uint8Array<ArrayBuffer>;
  readonly deviceId: string;
  readonly authority: string;
}

type Json = Record<string, unknown>;

const PAGE = { limit: 256, maxBytes: 1024 * 1024 };

/** Runs one device socket from challenge to close. */
export class DeviceSocket {
  readonly #challenge = crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
  #authenticated = false;
  #unsubscribe: (() => void) | undefined;
  #sentUpTo = 0;
  #caughtUp = false;
  #pumping = false;
  #slowSince: number | undefined;
  #authTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly peer: SocketPeer,
    private readonly parts: SocketParts,
  ) {
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#open();
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => this.#cleanup();
    socket.onerror = () => this.#cleanup();
  }

  /** Closes the socket with `code`, telling the device why. */
  close(code: number, reason: string): void {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(code, reason);
    this.#cleanup();
    this.parts.onClosed?.(this);
  }

  /** Closes the socket and resolves once the closing handshake is done. */
  closeAndWait(code: number, reason: string): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) =>
      this.socket.addEventListener("close", () => resolve(), { once: true })
    );
    this.close(code, reason);
    return closed;
  }

  #send(message: Json): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  #open(): void {
    this.#send({ type: "challenge", challenge: this.#challenge });
    this.#authTimer = setTimeout(
      () => this.close(CLOSE.authTimeout, "authentication timeout"),
      this.parts.limits.authTimeoutMs,
    );
  }

  #cleanup(): void {
    clearTimeout(this.#authTimer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #receive(data: unknown): void {
    if (!this.#authenticated) {
      this.#authenticate(data).catch(() => this.close(CLOSE.authFailed, "authentication failed"));
      return;
    }
    if (data instanceof ArrayBuffer) {
      this.#sendEnvelope(new Uint8Array(data)).catch((error) => this.#fail(error));
    } else {
      this.#control(String(data));
    }
  }

  #fail(error: unknown): void {
    log.error("Socket message failed: {error}", { error });
    this.#send({ type: "error", error: "internal", message: "The relay hit an unexpected error" });
  }

  async #authenticate(data: unknown): Promise<void> {
    const message = typeof data === "string" ? parseJson(data) : undefined;
    if (message?.type !== "auth" || typeof message.signature !== "string") {
      throw new TypeError("Expected an auth message");
    }
    const key = await crypto.subtle.importKey("raw", this.peer.vaultKey, "Ed25519", false, [
      "verify",
    ]);
    const signed = socketAuthMessage({
      authority: this.peer.authority,
      challenge: this.#challenge,
      vaultId: this.peer.vaultId,
      deviceId: this.peer.deviceId,
    });
    const signature = Uint8Array.fromBase64(message.signature);
    if (!await crypto.subtle.verify("Ed25519", key, signature, signed)) {
      this.#send({
        type: "error",
        error: "auth_failed",
        message: "The challenge signature does not verify",
      });
      throw new TypeError("Bad signature");
    }
    clearTimeout(this.#authTimer);
    // Counted after authentication, so nobody can use up a vault's sockets by naming it.
    if (this.parts.hub.socketCount(this.peer.vaultId) >= this.parts.limits.maxSocketsPerVault) {
      this.#send({
        type: "error",
        error: "too_many_sockets",
        message: `This vault already has ${this.parts.limits.maxSocketsPerVault} sockets open`,
      });
      return this.close(CLOSE.tooManySockets, "too many sockets for this vault");
    }
    this.#authenticated = true;
    const after = message.after;
    if (after !== undefined && !(Number.isSafeInteger(after) && (after as number) >= 0)) {
      this.#send({
        type: "error",
        error: "bad_message",
        message: "after must be a non-negative integer",
      });
      throw new TypeError("Bad after");
    }
    this.#ready(after as number | undefined);
  }

  #ready(after: number | undefined): void {
    const { mode, hub, presence } = this.parts;
    const { vaultId, deviceId } = this.peer;
    mode.touch(vaultId, deviceId);
    const page = mode.backlog({ vault: vaultId, device: deviceId, after, limit: 1, maxBytes: 1 });
    this.#sentUpTo = after ?? page.acked;
    this.#send({
      type: "ready",
      mode: mode.name,
      acked: page.acked,
      latest_seq: page.latestSeq,
      connected: [...hub.devicesConnected(vaultId)],
      presence: presence.list(vaultId).map((entry) => entry.device),
    });
    this.#unsubscribe = hub.subscribe(vaultId, {
      device: deviceId,
      deliver: (envelope) => this.#deliver(envelope),
      settled: () => this.settled(),
      onPresence: (event: PresenceEvent) => this.#send(event as unknown as Json),
    });
    if (mode.buffering === "enabled") void this.#pump();
    log.debug("Socket authenticated");
  }

  #deliver(envelope: Envelope): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    const buffered = this.socket.bufferedAmount;
    if (this.parts.mode.buffering === "disabled") {
      // Senders wait for readers (settled), so this is only reached by a reader that stalled
      // while several senders kept going.
      if (buffered > 4 * this.parts.limits.highWaterBytes) {
        this.close(CLOSE.slowReader, "slow reader: too far behind");
        return false;
      }
      this.socket.send(encodeEnvelopeFrame(envelope));
      return true;
    }
    if (this.#caughtUp && !this.#pumping && buffered < this.parts.limits.highWaterBytes) {
      this.socket.send(encodeEnvelopeFrame(envelope));
      this.#sentUpTo = envelope.seq;
      return true;
    }
    this.#caughtUp = false;
    void this.#pump();
    return true;
  }

  /** Resolves when the reader is below the high-water mark, or has been cut off as too slow. */
  async settled(): Promise<void> {
    while (this.socket.readyState === WebSocket.OPEN && !this.#readerKeepsUp()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Sends stored envelopes after `#sentUpTo`, in seq order, pausing while the reader lags. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.socket.readyState === WebSocket.OPEN) {
        if (!this.#readerKeepsUp()) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        const page = this.parts.mode.backlog({
          vault: this.peer.vaultId,
          device: this.peer.deviceId,
          after: this.#sentUpTo,
          ...PAGE,
        });
        if (page.envelopes.length === 0) {
          this.#caughtUp = true;
          return;
        }
        for (const envelope of page.envelopes) {
          this.socket.send(encodeEnvelopeFrame(envelope));
          this.#sentUpTo = envelope.seq;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #readerKeepsUp(): boolean {
    if (this.socket.bufferedAmount <= this.parts.limits.highWaterBytes) {
      this.#slowSince = undefined;
      return true;
    }
    const now = this.parts.clock.now();
    this.#slowSince ??= now;
    if (now - this.#slowSince > this.parts.limits.slowReaderMs) {
      this.close(CLOSE.slowReader, "slow reader: too far behind");
    }
    return false;
  }

  async #sendEnvelope(bytes: Uint8Array): Promise<void> {
    let frame;
    try {
      frame = decodeSendFrame(bytes);
    } catch (error) {
      if (error instanceof FrameError) {
        return this.#send({ type: "error", error: "bad_frame", message: error.message });
      }
      throw error;
    }
    const reject = (error: string, message: string, extra: Json = {}) =>
      this.#send({ type: "error", id: frame.id, error, message, ...extra });
    if (frame.body.byteLength > this.parts.limits.maxEnvelopeBytes) {
      return reject(
        "too_large",
        `The envelope is larger than ${this.parts.limits.maxEnvelopeBytes} bytes`,
      );
    }
    if (frame.to !== null && (!isDeviceId(frame.to) || frame.to === this.peer.deviceId)) {
      return reject("bad_recipient", "to must be another device id of the vault");
    }
    if (frame.idempotencyKey !== null && !isIdempotencyKey(frame.idempotencyKey)) {
      return reject(
        "bad_idempotency_key",
        "An idempotency key is 1 to 128 visible ASCII characters",
      );
    }
    let outcome: SendOutcome;
    try {
      outcome = await this.parts.mode.send({
        vault: this.peer.vaultId,
        from: this.peer.deviceId,
        to: frame.to,
        body: frame.body.slice(),
        idempotencyKey: frame.idempotencyKey ?? undefined,
      });
    } catch (error) {
      if (error instanceof StorageFullError) {
        return reject("storage_full", "The relay's disk is full; nothing was stored");
      }
      throw error;
    }
    this.#send(receipt(frame.id, outcome));
  }

  #control(text: string): void {
    const message = parseJson(text);
    const { mode } = this.parts;
    const { vaultId, deviceId } = this.peer;
    // A control message may carry an id; its reply echoes it, so clients can pair them.
    const id = Number.isSafeInteger(message?.id) ? { id: message!.id } : {};
    const reply = (answer: Json) => this.#send({ ...answer, ...id });
    if (
      message?.type === "ack" && Number.isSafeInteger(message.seq) && (message.seq as number) >= 0
    ) {
      const outcome = mode.ack(vaultId, deviceId, message.seq as number);
      return reply(
        outcome.kind === "acked"
          ? { type: "acked", acked: outcome.acked, deleted: outcome.deleted }
          : {
            type: "error",
            error: "ack_beyond_latest",
            message: `Cannot acknowledge seq ${message.seq}: the latest seq is ${outcome.latest}`,
            latest_seq: outcome.latest,
          },
      );
    }
    if (message?.type === "presence" && typeof message.blob === "string") {
      return reply(this.#publishPresence(message.blob, message.ttl));
    }
    if (message?.type === "ping") return reply({ type: "pong" });
    reply({
      type: "error",
      error: "bad_message",
      message:
        'Expected {"type":"ack","seq":N}, {"type":"presence","blob":"…","ttl":N} or {"type":"ping"}',
    });
  }

  #publishPresence(blobText: string, ttl: unknown): Json {
    const { presence } = this.parts;
    const { maxTtlSeconds, maxBlobBytes } = presence.limits;
    let blob: Uint8Array;
    try {
      blob = Uint8Array.fromBase64(blobText);
    } catch {
      return { type: "error", error: "bad_message", message: "blob must be base64" };
    }
    const seconds = ttl === undefined ? 300 : Number(ttl);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > maxTtlSeconds) {
      return {
        type: "error",
        error: "bad_message",
        message: `ttl must be 1 to ${maxTtlSeconds} seconds`,
      };
    }
    if (blob.byteLength > maxBlobBytes) {
      return {
        type: "error",
        error: "too_large",
        message: `The presence blob is larger than ${maxBlobBytes} bytes`,
      };
    }
    const entry = presence.publish(this.peer.vaultId, this.peer.deviceId, blob, seconds);
    return entry ? { type: "presence_ok", expires_at: entry.expiresAt } : {
      type: "error",
      error: "presence_full",
      message: "The relay holds too many presence blobs",
    };
  }
}

function parseJson(text: string): Json | undefined {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value as Json : undefined;
  } catch {
    return undefined;
  }
}

function receipt(id: number, outcome: SendOutcome): Json {
  switch (outcome.kind) {
    case "stored":
      return { type: "stored", id, seq: outcome.seq, recipients: outcome.recipients };
    case "duplicate":
      return { type: "stored", id, seq: outcome.seq, duplicate: true };
    case "delivered":
      return { type: "delivered", id, seq: outcome.seq, recipients: outcome.recipients };
    case "full":
      return {
        type: "error",
        id,
        error: "buffer_full",
        message: `The vault's buffer holds ${outcome.used} of ${outcome.limit} bytes`,
        used: outcome.used,
        limit: outcome.limit,
      };
  }
}
