/**
 * The socket's challenge-response authentication: the relay sends a random challenge, the device
 * answers with the vault key's signature over the context string, the relay's authority, the
 * challenge, the vault id and the device id (see `protocol/socket_frames.ts`).
 *
 * @module
 */
import { encodeBase64Url } from "../protocol/identity.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { socketAuthMessage } from "../protocol/socket_frames.ts";
import { decodeCanonicalBase64, integerParameter } from "../protocol/validate.ts";
import type { VaultKeys } from "../guard/vault_keys.ts";
import type { Json } from "./replies.ts";

/** Who is at the other end, as claimed before authentication. */
export interface SocketPeer {
  readonly vaultId: string;
  readonly vaultKey: Uint8Array<ArrayBuffer>;
  readonly deviceId: string;
  readonly authority: string;
  /** The client's address key, for per-address shares. */
  readonly address: string;
}

/** A fresh random challenge: 32 bytes, unpadded base64url. */
export function newChallenge(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Why authentication failed: the close code follows from it. */
export class HandshakeError extends Error {
  override name = "HandshakeError";

  constructor(
    /** What to tell the device before closing. */
    readonly refusal: ProtocolError,
    /** `auth` when the signature or message is wrong, `protocol` when a field is. */
    readonly kind: "auth" | "protocol",
  ) {
    super(refusal.message);
  }
}

/**
 * Verifies an auth message against the challenge. Returns the cursor the device asked to
 * start after (`undefined`: its acknowledged cursor).
 *
 * @throws {HandshakeError} when the message is not an auth message, the signature does not
 * verify, or `after` is not a seq.
 */
export function verifyAuth(
  message: Json | undefined,
  context: { challenge: string; peer: SocketPeer; keys: VaultKeys },
): number | undefined {
  const { peer, challenge } = context;
  const signature = message?.type === "auth" ? decodeCanonicalBase64(message.signature) : undefined;
  const signed = socketAuthMessage({
    authority: peer.authority,
    challenge,
    vaultId: peer.vaultId,
    deviceId: peer.deviceId,
  });
  if (
    !signature ||
    !context.keys.verify(peer.vaultId, peer.vaultKey, { signature, data: signed })
  ) {
    throw new HandshakeError(
      new ProtocolError("auth_failed", "Expected an auth message whose signature verifies"),
      "auth",
    );
  }
  try {
    return integerParameter("after", message!.after, { min: 0, max: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    throw new HandshakeError(error as ProtocolError, "protocol");
  }
}
