/**
 * The libp2p identity of the relay: an Ed25519 key created on first start and kept, so the peer
 * id that clients pin survives restarts. Store-and-forward keeps it in the database's meta table
 * (a backup of the database carries it); stateless mode, which keeps no database, in a key file.
 *
 * @module
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import type { Database } from "../store/database.ts";
import { type IdentityStore, P2pKeyError } from "./key_file.ts";

/** Meta key holding the protobuf-encoded private key. */
export const IDENTITY_META_KEY = "p2p.identity";

/** The key in `database`'s meta table. */
export function databaseIdentity(database: Database): IdentityStore {
  return {
    read: () => database.getMeta(IDENTITY_META_KEY),
    write: (key) => database.setMeta(IDENTITY_META_KEY, key),
  };
}

/** Loads the relay's libp2p private key from `store`, creating and storing it the first time. */
export async function loadOrCreateIdentity(store: IdentityStore): Promise<PrivateKey> {
  const stored = store.read();
  if (stored) {
    try {
      return privateKeyFromProtobuf(stored);
    } catch (error) {
      throw new P2pKeyError(
        `The stored libp2p key is not a key (${(error as Error).message}); remove it to make a ` +
          "new one (the relay's peer id then changes)",
      );
    }
  }
  const key = await generateKeyPair("Ed25519");
  store.write(privateKeyToProtobuf(key));
  return key;
}
