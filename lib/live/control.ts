/**
 * Control messages a device sends on its socket once authenticated (JSON text frames): ack,
 * presence, ping and pong. Each is charged to the vault's rate like an HTTP request.
 *
 * @module
 */
import type { RelayMode } from "../modes/mode.ts";
import type { PresenceBoard } from "./presence.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { decodeCanonicalBase64, isSeq, presenceTtl } from "../protocol/validate.ts";
import type { SocketPeer } from "./handshake.ts";
import type { Json } from "./replies.ts";

/** What answering a control message needs. */
export interface ControlContext {
  readonly mode: RelayMode;
  readonly presence: PresenceBoard;
  readonly peer: SocketPeer;
  /** Charges the vault's rate; throws `rate_limited` when it has none left. */
  readonly onControl?: ((vaultId: string) => void) | undefined;
}

/**
 * The reply to a control message; `undefined` for a pong, which needs none.
 *
 * @throws {ProtocolError} the refusal to send back (`bad_message`, `rate_limited`, …).
 */
export async function answerControl(
  message: Json | undefined,
  context: ControlContext,
): Promise<Json | undefined> {
  const { mode, presence } = context;
  const { vaultId, deviceId } = context.peer;
  if (message?.type === "pong") return undefined;
  context.onControl?.(vaultId);
  if (message?.type === "ack" && isSeq(message.seq)) {
    const outcome = await mode.ack(vaultId, deviceId, message.seq);
    return { type: "acked", acked: outcome.acked, deleted: outcome.deleted };
  }
  if (message?.type === "presence" && typeof message.blob === "string") {
    const ttl = presenceTtl(message.ttl, presence.limits.maxTtlSeconds);
    const blob = decodeCanonicalBase64(message.blob);
    if (!blob) throw new ProtocolError("bad_parameter", "blob must be canonical padded base64");
    await mode.touch(vaultId, deviceId);
    const entry = presence.publish({
      vault: vaultId,
      device: deviceId,
      blob,
      ttlSeconds: ttl,
      address: context.peer.address,
    });
    return { type: "presence_ok", expires_at: entry.expiresAt };
  }
  if (message?.type === "ping") return { type: "pong" };
  throw new ProtocolError(
    "bad_message",
    'Expected {"type":"ack","seq":N}, {"type":"presence","blob":"…","ttl":N}, {"type":"ping"} ' +
      'or {"type":"pong"}',
  );
}
