/**
 * Schema migrations, applied in order by `lib/store/open.ts`. Entry N brings a database from
 * `user_version` N to N+1. Never edit an entry that has shipped; append a new one.
 *
 * @module
 */

/** The migration scripts, oldest first. */
export const MIGRATIONS: readonly string[] = [
  // 1: the relay's own state (identity keys, settings that must survive restarts).
  `CREATE TABLE meta (
     key   TEXT PRIMARY KEY,
     value BLOB NOT NULL
   ) STRICT;`,
  // 2: store-and-forward envelopes, per-vault counters, device cursors, idempotency keys.
  `CREATE TABLE vaults (
     vault          TEXT PRIMARY KEY,
     next_seq       INTEGER NOT NULL DEFAULT 1,
     used_bytes     INTEGER NOT NULL DEFAULT 0,
     envelope_count INTEGER NOT NULL DEFAULT 0
   ) STRICT;
   CREATE TABLE envelopes (
     vault      TEXT NOT NULL,
     seq        INTEGER NOT NULL,
     sender     TEXT NOT NULL,
     recipient  TEXT,
     size       INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     body       BLOB NOT NULL,
     UNIQUE (vault, seq)
   ) STRICT;
   CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);
   CREATE TABLE devices (
     vault     TEXT NOT NULL,
     device    TEXT NOT NULL,
     acked     INTEGER NOT NULL DEFAULT 0,
     last_seen INTEGER NOT NULL,
     PRIMARY KEY (vault, device)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE idempotency (
     vault      TEXT NOT NULL,
     device     TEXT NOT NULL,
     key        TEXT NOT NULL,
     seq        INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (vault, device, key)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);`,
  // 3: rendezvous registrations of the libp2p node (lib/store/rendezvous.ts). The id orders
  // registrations for discovery cookies; AUTOINCREMENT keeps ids from being reused after deletes,
  // so a cookie never skips a newer registration.
  `CREATE TABLE rendezvous_registration (
     id          INTEGER PRIMARY KEY AUTOINCREMENT,
     namespace   TEXT NOT NULL,
     peer_id     TEXT NOT NULL,
     record      BLOB NOT NULL,
     ttl_seconds INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     UNIQUE (namespace, peer_id)
   ) STRICT;
   CREATE INDEX rendezvous_registration_expiry ON rendezvous_registration (expires_at);
   CREATE INDEX rendezvous_registration_peer ON rendezvous_registration (peer_id);`,
  // 4: acknowledgements delete by range (lib/store/acknowledgements.ts), each envelope is
  // charged 512 bytes of overhead on top of its body (ModeLimits.envelopeOverheadBytes), and the
  // sweep finds empty vaults without a scan.
  `CREATE INDEX envelopes_broadcast ON envelopes (vault, sender, seq) WHERE recipient IS NULL;
   CREATE INDEX envelopes_addressed ON envelopes (vault, recipient, seq)
     WHERE recipient IS NOT NULL;
   CREATE INDEX vaults_empty ON vaults (vault) WHERE envelope_count = 0;
   UPDATE vaults SET used_bytes = used_bytes + 512 * envelope_count;`,
  // 5: rendezvous registrations remember the address they came from (an IPv4 address or an IPv6
  // /64), so one address cannot fill the table with many peer ids (P2pLimits).
  `ALTER TABLE rendezvous_registration ADD COLUMN address TEXT NOT NULL DEFAULT '';
   CREATE INDEX rendezvous_registration_address ON rendezvous_registration (address);`,
  // 6: a purge is remembered on the vault (milliseconds since the epoch, 0 if never), so the sweep
  // forgets a purged vault only once it stayed idle for the TTL after the purge: before, a sweep
  // between a purge (which deletes every envelope and device row) and the vault's next request
  // forgot it at once and its seqs restarted at 1.
  `ALTER TABLE vaults ADD COLUMN purged_at INTEGER NOT NULL DEFAULT 0;`,
];
