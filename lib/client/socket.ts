/**
 * The live socket of one device: it answers the relay's challenge, then receives the backlog and
 * live envelopes, sends envelopes with receipts, acknowledges and publishes presence.
 *
 * @module
 */
import {
  decodeEnvelopeFrame,
  encodeSendFrame,
  SOCKET_SUBPROTOCOL,
  socketAuthMessage,
} from "../protocol/socket_frames.ts";
import { authorityOf } from "../protocol/signature_base.ts";
import type { ReceivedEnvelope } from "./envelope.ts";
import { RelayError } from "./errors.ts";

/** A receipt for an envelope sent on a socket. */
export interface SocketReceipt {
  /** The seq the relay assigned. */
  readonly seq: number;
  /** True when the relay stored it (store-and-forward), false in stateless mode. */
  readonly stored: boolean;
  /** True when this was a retry of an earlier send with the same idempotency key. */
  readonly duplicate: boolean;
  /** Devices that received it live. */
  readonly recipients: number;
}

/** What the relay said once the socket was authenticated. */
export interface SocketReady {
  /** The relay's mode, e.g. `store-and-forward`. */
  readonly mode: string;
  /** This device's acknowledged cursor. */
  readonly acked: number;
  /** The vault's latest seq. */
  readonly latestSeq: number;
  /** Other devices of the vault with an open socket. */
  readonly connected: string[];
  /** Devices of the vault with a published presence blob. */
  readonly presence: string[];
}

/** Callbacks of a socket. */
export interface SocketHandlers {
  /** An envelope from another device, in seq order. */
  readonly onEnvelope?: (envelope: ReceivedEnvelope) => void;
  /** A join or leave event: `{type: "join" | "leave", device}`. */
  readonly onPresence?: (event: { type: "join" | "leave"; device: string }) => void;
}

/** Which device of which vault a socket is for, on which relay; a `RelayClient` is one. */
export interface SocketTarget {
  /** The relay's base URL; `https:` becomes `wss:`. */
  readonly url: string;
  /** The vault id the keys certify. */
  readonly vaultId: string;
  /** This device's label. */
  readonly device: string;
}

type Pending = {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
};

function relayErrorOf(message: Record<string, unknown>): RelayError {
  return new RelayError(0, String(message.error), String(message.message), message);
}

/** A device's live socket: envelopes pushed as they arrive, sends with receipts, acks. */
export class RelaySocket {
  /** Sends and control messages waiting for their reply, by id. */
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Resolves with the close code and reason when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;

  /** Wraps an authenticated socket; {@linkcode connectSocket} builds it. */
  constructor(
    private readonly socket: WebSocket,
    /** What the relay reported on authentication. */
    readonly ready: SocketReady,
    closed: Promise<{ code: number; reason: string }>,
  ) {
    this.closed = closed;
  }

  /** Handles a text frame after authentication. */
  handleControl(message: Record<string, unknown>): void {
    // Errors without an id (a frame the relay could not read) belong to no request.
    if (typeof message.id !== "number") return;
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    if (message.type === "error") pending?.reject(relayErrorOf(message));
    else pending?.resolve(message);
  }

  /** Fails every pending request when the socket closes. */
  failPending(reason: string): void {
    const error = new RelayError(0, "closed", reason, {});
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #expectReply(): { id: number; reply: Promise<Record<string, unknown>> } {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    return { id, reply: promise };
  }

  /** Sends an envelope (binary frame) and resolves with the relay's receipt. */
  send(
    body: Uint8Array,
    options: { to?: string; idempotencyKey?: string } = {},
  ): Promise<SocketReceipt> {
    const { id, reply } = this.#expectReply();
    this.socket.send(encodeSendFrame({
      id,
      to: options.to ?? null,
      idempotencyKey: options.idempotencyKey ?? null,
      body,
    }));
    return reply.then((message) => ({
      seq: message.seq as number,
      stored: message.type === "stored",
      duplicate: message.duplicate === true,
      recipients: (message.recipients as number | undefined) ?? 0,
    }));
  }

  #control(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { id, reply } = this.#expectReply();
    this.socket.send(JSON.stringify({ ...message, id }));
    return reply;
  }

  /** Acknowledges everything up to `seq`. */
  async ack(seq: number): Promise<{ acked: number; deleted: number }> {
    const reply = await this.#control({ type: "ack", seq });
    return { acked: reply.acked as number, deleted: reply.deleted as number };
  }

  /** Publishes this device's presence blob for `ttl` seconds. */
  async publishPresence(blob: Uint8Array, ttl = 300): Promise<number> {
    const reply = await this.#control({ type: "presence", blob: blob.toBase64(), ttl });
    return reply.expires_at as number;
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "bye");
    await this.closed;
  }
}

/**
 * Opens an authenticated socket for this device: answers the relay's challenge, then receives
 * the backlog after `after` (default: the acknowledged cursor) and live envelopes.
 *
 * @example
 * ```ts
 * const socket = await connectSocket(client, keys, { onEnvelope: (e) => console.log(e.seq) });
 * await socket.send(new TextEncoder().encode("ciphertext"));
 * await socket.close();
 * ```
 * @throws {RelayError} when the relay refuses the socket or it closes before it is ready.
 */
export async function connectSocket(
  client: SocketTarget,
  keys: CryptoKeyPair,
  options: SocketHandlers & { after?: number } = {},
): Promise<RelaySocket> {
  const base = new URL(client.url);
  const url = new URL(`/v3/vaults/${client.vaultId}/socket`, base);
  url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("device", client.device);
  const ws = new WebSocket(url, [SOCKET_SUBPROTOCOL]);
  ws.binaryType = "arraybuffer";
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
  });
  const opened = Promise.withResolvers<RelaySocket>();
  let socket: RelaySocket | undefined;
  ws.onmessage = async (event) => {
    if (event.data instanceof ArrayBuffer) {
      const frame = decodeEnvelopeFrame(new Uint8Array(event.data));
      options.onEnvelope?.({ ...frame, expiresAt: 0 });
      return;
    }
    const message = JSON.parse(String(event.data)) as Record<string, unknown>;
    if (message.type === "challenge") {
      const signed = socketAuthMessage({
        authority: authorityOf(base.host),
        challenge: String(message.challenge),
        vaultId: client.vaultId,
        deviceId: client.device,
      });
      const signature = new Uint8Array(
        await crypto.subtle.sign("Ed25519", keys.privateKey, signed),
      );
      ws.send(JSON.stringify({
        type: "auth",
        signature: signature.toBase64(),
        ...(options.after === undefined ? {} : { after: options.after }),
      }));
    } else if (message.type === "ready") {
      socket = new RelaySocket(ws, {
        mode: String(message.mode),
        acked: message.acked as number,
        latestSeq: message.latest_seq as number,
        connected: message.connected as string[],
        presence: message.presence as string[],
      }, closed);
      opened.resolve(socket);
    } else if (message.type === "join" || message.type === "leave") {
      options.onPresence?.(message as { type: "join" | "leave"; device: string });
    } else if (message.type === "ping") {
      // The relay pings a silent socket and closes it (4010) if nothing comes back.
      ws.send(JSON.stringify({ type: "pong" }));
    } else if (socket) {
      socket.handleControl(message);
    } else if (message.type === "error") {
      opened.reject(relayErrorOf(message));
    }
  };
  closed.then(({ code, reason }) => {
    socket?.failPending(`The socket closed (${code} ${reason})`);
    opened.reject(new RelayError(0, "closed", `The socket closed (${code} ${reason})`, { code }));
  });
  return await opened.promise;
}
