/**
 * Reference client for VaultMesh relay protocol 3. It signs every request with the vault's
 * Ed25519 key (RFC 9421, RFC 9530) and speaks every HTTP endpoint and the device socket. Deriving
 * the vault key from the vault secret is the application's business: pass a key pair and a device
 * label.
 *
 * - `keys.ts`: vault key pairs and vault ids
 * - `sign.ts`: RFC 9421 request signing
 * - `http.ts`: {@linkcode RelayClient}, the signed HTTP client
 * - `socket.ts`: {@linkcode RelaySocket}, the live socket
 * - `errors.ts`: {@linkcode RelayError}, every error answer of the relay
 *
 * @example
 * ```ts
 * import { generateVaultKeys, RelayClient } from "@vaultmesh/relay/client";
 *
 * const keys = await generateVaultKeys();
 * const laptop = await RelayClient.create({ url: "https://relay.example.org", keys, device: "laptop" });
 * const { seq } = await laptop.send(new TextEncoder().encode("ciphertext"));
 * ```
 *
 * @module
 */
export type { ReceivedEnvelope } from "./envelope.ts";
export { RelayError } from "./errors.ts";
export { FrameError } from "../protocol/socket_frames.ts";
export { generateVaultKeys, vaultIdOfKeys, vaultKeysFromSeed } from "./keys.ts";
export {
  type SignedParts,
  type SigningOptions,
  signRequest,
  type UnsignedRequest,
} from "./sign.ts";
export {
  type BacklogFormat,
  type BacklogResult,
  type ClientOptions,
  RelayClient,
  type SendResult,
  type UsageResult,
} from "./http.ts";
export {
  connectSocket,
  RelaySocket,
  type SocketHandlers,
  type SocketReady,
  type SocketReceipt,
  type SocketTarget,
} from "./socket.ts";
