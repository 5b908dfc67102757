/**
 * A raw WebSocket client for the abuse scenario, written on a {@linkcode RawConn} so it can do
 * what a browser never would: stop reading, send half a frame, ignore a close.
 *
 * @module
 */
import { SOCKET_SUBPROTOCOL, socketAuthMessage } from "../../lib/protocol/socket_frames.ts";
import { authorityOf } from "../../lib/protocol/signature_base.ts";
import { RawConn } from "./_abuse_net.ts";

/** WebSocket opcodes used here. */
export const Opcode = { text: 1, binary: 2, close: 8 } as const;

/** One frame from the relay. */
export interface Frame {
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/** Reads whole frames (the relay's are unmasked) off a connection. */
export class FrameReader {
  #buffer: Uint8Array;

  constructor(private readonly conn: RawConn, leftover: Uint8Array = new Uint8Array(0)) {
    this.#buffer = leftover;
  }

  #append(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.byteLength);
    this.#buffer = joined;
  }

  #take(): Frame | undefined {
    const b = this.#buffer;
    if (b.byteLength < 2) return undefined;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.byteLength < 4) return undefined;
      length = (b[2]! << 8) | b[3]!;
      offset = 4;
    } else if (length === 127) {
      if (b.byteLength < 10) return undefined;
      length = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      offset = 10;
    }
    if (b.byteLength < offset + length) return undefined;
    const frame = { opcode: b[0]! & 0x0f, payload: b.slice(offset, offset + length) };
    this.#buffer = b.slice(offset + length);
    return frame;
  }

  /** The next frame, or null when the connection ended first. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.#take();
      if (frame) return frame;
      const chunk = await this.conn.read();
      if (!chunk) return null;
      this.#append(chunk);
    }
  }

  /** The next text frame parsed as JSON, skipping binary frames; null at a close or the end. */
  async nextMessage(): Promise<Record<string, unknown> | null> {
    for (;;) {
      const frame = await this.next();
      if (!frame || frame.opcode === Opcode.close) return null;
      if (frame.opcode === Opcode.text) {
        return JSON.parse(new TextDecoder().decode(frame.payload)) as Record<string, unknown>;
      }
    }
  }
}

/**
 * A masked client frame header for a payload of `declaredLength` bytes, followed by the first
 * `payload` bytes of it (all of it when the lengths agree).
 */
export function clientFrame(
  opcode: number,
  payload: Uint8Array,
  declaredLength = payload.byteLength,
): Uint8Array {
  const extended = declaredLength < 126 ? 0 : declaredLength < 65536 ? 2 : 8;
  const header = new Uint8Array(2 + extended + 4);
  header[0] = 0x80 | opcode;
  const view = new DataView(header.buffer);
  if (extended === 0) header[1] = 0x80 | declaredLength;
  else if (extended === 2) {
    header[1] = 0x80 | 126;
    view.setUint16(2, declaredLength);
  } else {
    header[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(declaredLength));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  header.set(mask, 2 + extended);
  const frame = new Uint8Array(header.byteLength + payload.byteLength);
  frame.set(header);
  for (let i = 0; i < payload.byteLength; i++) {
    frame[header.byteLength + i] = payload[i]! ^ mask[i & 3]!;
  }
  return frame;
}

/**
 * The header alone of a client frame announcing `declaredLength` payload bytes, with an all-zero
 * mask: the payload can then follow in pieces as plain bytes (or never).
 */
export function zeroMaskedFrame(opcode: number, declaredLength: number): Uint8Array {
  const frame = clientFrame(opcode, new Uint8Array(0), declaredLength);
  frame.fill(0, frame.byteLength - 4);
  return frame;
}

/** An open raw socket: the connection and a reader positioned after the 101 answer. */
export interface RawSocket {
  readonly conn: RawConn;
  readonly frames: FrameReader;
}

/**
 * Opens `/v3/vaults/{vault}/socket?device=…` on a raw connection and completes the upgrade.
 * Rejects unless the relay answers 101.
 */
export async function openRawSocket(
  options: { port: number; vaultId: string; device: string; localAddress?: string },
): Promise<RawSocket> {
  const conn = await RawConn.connect(options);
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  await conn.write(
    `GET /v3/vaults/${options.vaultId}/socket?device=${options.device} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: ${SOCKET_SUBPROTOCOL}\r\n\r\n`,
  );
  let head = new Uint8Array(0);
  for (;;) {
    const chunk = await conn.read();
    if (!chunk) throw new Error("The relay closed the connection during the upgrade");
    const joined = new Uint8Array(head.byteLength + chunk.byteLength);
    joined.set(head);
    joined.set(chunk, head.byteLength);
    head = joined;
    const text = new TextDecoder("latin1").decode(head);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    if (!text.startsWith("HTTP/1.1 101")) {
      conn.close();
      throw new Error(`The upgrade was answered ${text.slice(0, text.indexOf("\r\n"))}`);
    }
    return { conn, frames: new FrameReader(conn, head.slice(end + 4)) };
  }
}

/**
 * Answers the relay's challenge on `socket` as `device` of the vault of `keys` and waits for
 * `ready`. Rejects with the relay's error when it refuses.
 */
export async function authenticate(
  socket: RawSocket,
  options: { port: number; keys: CryptoKeyPair; vaultId: string; device: string },
): Promise<Record<string, unknown>> {
  const challenge = await socket.frames.nextMessage();
  if (challenge?.type !== "challenge") throw new Error("The relay sent no challenge");
  const signed = socketAuthMessage({
    authority: authorityOf(`127.0.0.1:${options.port}`),
    challenge: String(challenge.challenge),
    vaultId: options.vaultId,
    deviceId: options.device,
  });
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", options.keys.privateKey, signed),
  );
  await socket.conn.write(clientFrame(
    Opcode.text,
    new TextEncoder().encode(JSON.stringify({ type: "auth", signature: signature.toBase64() })),
  ));
  const ready = await socket.frames.nextMessage();
  if (ready?.type !== "ready") {
    throw new Error(`Authentication answered ${JSON.stringify(ready)}`);
  }
  return ready;
}
