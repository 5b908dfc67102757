/**
 * Test helper: an envelope store on a fresh database (in memory unless a path is given), closed
 * on dispose.
 *
 * @module
 */
import { Database } from "./database.ts";
import { type EnvelopeLimits, EnvelopeStore } from "./envelopes.ts";

/** How long the helper's envelopes live, unless told otherwise. */
export const TTL = 60_000;

/** A store with small limits (1000 bytes and 1000 envelopes a vault) unless `limits` says. */
export function openStore(limits: Partial<EnvelopeLimits> = {}, path = ":memory:") {
  const database = Database.open(path);
  const store = new EnvelopeStore(database, {
    ttlMs: TTL,
    maxBufferBytes: 1000,
    envelopeOverheadBytes: 0,
    maxEnvelopesPerVault: 1000,
    maxStoredBytes: 1024 * 1024,
    ackDeleteRows: 1000,
    ...limits,
  });
  return Object.assign(store, {
    database,
    [Symbol.dispose]: () => database.close(),
  });
}
