/**
 * The libp2p identity of the relay: an Ed25519 key created on first start and kept in the
 * database's meta table, so the peer id that clients pin survives restarts.
 *
 * @module
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import type { Database } from "../store/database.ts";

/** Meta key holding the protobuf-encoded private key. */
export const IDENTITY_META_KEY = "p2p.identity";

/** Loads the relay's libp2p private key from `database`, creating and storing it the first time. */
export async function loadOrCreateIdentity(database: Database): Promise<PrivateKey> {
  const stored = database.getMeta(IDENTITY_META_KEY);
  if (stored) return privateKeyFromProtobuf(stored);
  const key = await generateKeyPair("Ed25519");
  database.setMeta(IDENTITY_META_KEY, privateKeyToProtobuf(key));
  return key;
}
