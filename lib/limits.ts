/**
 * Every bound the relay enforces, in one place: its value, what it caps, and what a client sees
 * when it reaches it. Flag-backed bounds are read from the configuration; the rest are fixed here.
 * docs/OPERATIONS.md carries the same list as a table for operators.
 *
 * A map, queue, buffer or table that a client can grow gets its bound here, a metric, a
 * documented refusal and a test that drives it to the bound.
 *
 * @module
 */
import type { Config } from "./config/mod.ts";
import type { RateLimit } from "./guard/rate_limit.ts";
import type { FdBudget } from "./guard/fd_budget.ts";
import { budgetScale, type MemoryLimit } from "./guard/memory_limit.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bounds of one HTTP request and the vault endpoints. */
export interface HttpLimits {
  /** Largest envelope body (`--max-envelope`). At it: 413 `too_large`. */
  readonly maxEnvelopeBytes: number;
  /** Largest ack body. At it: 413 `too_large`. */
  readonly maxAckBytes: number;
  /** Time a request body may take (`--body-timeout`). At it: 408 `body_timeout`, connection closed. */
  readonly bodyTimeoutMs: number;
  /** Longest long poll (`wait=`). Beyond it: 400 `bad_parameter`. */
  readonly maxWaitSeconds: number;
  /** Envelopes per backlog page (`limit=`). Beyond it: 400 `bad_parameter`. */
  readonly maxPageEnvelopes: number;
  /** About how many body bytes one backlog page carries; the rest comes with `more: true`. */
  readonly maxPageBytes: number;
  /** Long polls waiting from one address / for one vault (429 `too_many_in_flight` beyond),
   * and in all (beyond it the oldest is answered at once with an empty page). */
  readonly longPolls: {
    readonly perAddress: number;
    readonly perVault: number;
    readonly total: number;
  };
}

/** Bounds of one device socket. */
export interface SocketLimits {
  /** Largest envelope sent on a socket (`--max-envelope`). At it: error `too_large`. */
  readonly maxEnvelopeBytes: number;
  /** Time from upgrade to a verified auth message. At it: close 4008. */
  readonly authTimeoutMs: number;
  /** Largest message before the socket authenticates (an auth message is a few hundred bytes).
   * Beyond it: close 1009, checked on the frame's head before its payload is read. */
  readonly maxUnauthenticatedMessageBytes: number;
  /** Largest message once authenticated: an envelope's frame or a control message, with room
   * for a `too_large` answer to an envelope somewhat over `--max-envelope`. Beyond it: close
   * 1009, checked on the frame's head. */
  readonly maxMessageBytes: number;
  /** Unsent bytes of one socket the gate speaks itself, of every kind (frames, replies, pongs):
   * far above a reader's mark plus a backlog page, so only a client that reads nothing while it
   * keeps asking reaches it. Beyond it: the connection is dropped at once. */
  readonly maxQueuedBytes: number;
  /**
   * The most unsent bytes a reader's high-water mark allows: above its mark the relay stops
   * pushing to it until it catches up (stored mode), or a vault's stateless sends wait until its
   * readers are below their marks again. A reader alone (or with one other) gets all of it.
   */
  readonly highWaterBytes: number;
  /**
   * Unsent bytes the sockets of one vault hold together: each socket's high-water mark is its
   * share of this (between `minHighWaterBytes` and `highWaterBytes`), so a vault's readers that
   * stop reading hold about this much, not `highWaterBytes` each.
   */
  readonly vaultQueueBytes: number;
  /** The smallest high-water mark a socket's share comes to. */
  readonly minHighWaterBytes: number;
  /**
   * Time a reader may stay above its high-water mark, or read nothing at all (the gate's writes
   * to it wait). At it: close 4009.
   */
  readonly slowReaderMs: number;
  /** Seconds between pings on an idle socket (`--socket-idle-timeout`); unanswered: close 4010. */
  readonly idleTimeoutSeconds: number;
  /** Authenticated sockets of one vault (`--max-sockets-per-vault`). At it: close 4029. */
  readonly maxSocketsPerVault: number;
  /** Stored envelopes read per page when pushing a backlog. */
  readonly pumpPageEnvelopes: number;
  /** Stored body bytes read per page when pushing a backlog. */
  readonly pumpPageBytes: number;
  /** Time a stopping relay waits for sockets to finish their closing handshake. */
  readonly closeWaitMs: number;
  /** Sends on one socket waiting for their receipt. Beyond it: error `too_many_in_flight`. */
  readonly maxSendsInFlight: number;
  /**
   * Body bytes of one socket's sends waiting for their receipt (a single envelope always fits).
   * Beyond it: error `too_many_in_flight`. PROTOCOL.md tells clients to keep about 2 MiB in flight.
   */
  readonly maxSendBytesInFlight: number;
}

/** Bounds of memory that clients can make the relay hold. */
export interface MemoryLimits {
  /** The memory the relay may use (`--memory-limit`, or the cgroup's, or the machine's). */
  readonly limitBytes: number;
  /** Where that limit came from. */
  readonly limitSource: MemoryLimit["source"];
  /**
   * The share of the full in-flight budgets this limit allows (1 from 512 MiB, 1/8 at 64 MiB):
   * `requestBytes`, `http.maxPageBytes`, `socket.pumpPageBytes`, `socket.vaultQueueBytes`,
   * `modes.commitBatchBytes`, `connections.pumpBufferBytes`, `storage.cacheBytes` and
   * `scavengeEveryBytes` (not below 512 KiB) are scaled by it (`guard/memory_limit.ts`).
   */
  readonly budgetScale: number;
  /**
   * Request bodies being read and sends waiting for their commit, over HTTP and sockets, in
   * bytes; at least one largest envelope, which one client address may always hold (otherwise
   * a quarter). Beyond it: 503 / socket error `busy` with `Retry-After: 1`. A connection's first
   * request whose `Content-Length` does not fit is refused by the gate before the HTTP server
   * sees it, so a flood of large bodies costs no more than its connections.
   */
  readonly requestBytes: number;
  /** The bytes one client address may hold of `requestBytes`. */
  readonly requestBytesPerAddress: number;
  /**
   * How often the memory valve checks the process's anonymous memory while the budgets are
   * scaled down (Linux with glibc and `--allow-ffi`; `guard/memory_valve.ts`); 0 = never.
   */
  readonly checkEveryMs: number;
  /** Anonymous memory above which the valve returns the C heap's free pages to the system. */
  readonly trimAboveBytes: number;
  /** Anonymous memory (after a trim) above which new request bodies and socket sends get 503 /
   * `busy`, until it falls below `resumeBelowBytes`. */
  readonly refuseAboveBytes: number;
  /** Anonymous memory below which a refusing valve lets new work in again. */
  readonly resumeBelowBytes: number;
  /**
   * Buffer bytes made (received, sent, encoded) between two young-generation collections, which
   * free the dead ones; 0 = leave it to V8. Needs `--v8-flags=--expose-gc` (the start task and
   * the release binaries have it); without it nothing is collected early.
   */
  readonly scavengeEveryBytes: number;
}

/** Bounds of the presence board (kept in memory in both modes). */
export interface PresenceLimits {
  /** Largest presence blob. At it: 413 / socket error `too_large`. */
  readonly maxBlobBytes: number;
  /** Longest presence TTL. Beyond it: 400 / socket error `bad_parameter`. */
  readonly maxTtlSeconds: number;
  /** Blobs held in all. At it: 503 / socket error `presence_full`. */
  readonly maxEntries: number;
  /** Blobs of one vault (one per device). At it: 503 / socket error `presence_full`. */
  readonly maxPerVault: number;
  /** Blobs published from one client address. At it: 503 / socket error `presence_full`. */
  readonly maxPerAddress: number;
}

/** Bounds of signature verification. */
export interface SignatureLimits {
  /** Nonces remembered for one vault (its sustained rate is this / 121 s). At it: 429 `replay_cache_full`. */
  readonly noncesPerVault: number;
  /** Nonces remembered for one client address (IPv4 or IPv6 /64). At it: 429 `replay_cache_full`. */
  readonly noncesPerAddress: number;
  /** Nonces remembered in all. At it: 429 `replay_cache_full`. */
  readonly noncesTotal: number;
  /** Imported vault keys cached (least recently used are dropped; costs only time). */
  readonly keyCacheEntries: number;
}

/** Bounds of the admission guard in front of every HTTP request. */
export interface AdmissionLimits {
  /** HTTP requests in flight at once (`--max-connections`). At it: 503 `busy`. */
  readonly maxInFlight: number;
  /** Requests in flight from one address (`--max-connections-per-ip`). At it: 429 `too_many_in_flight`. */
  readonly maxInFlightPerAddress: number;
  /** Total size of header names and values (`--max-header-bytes`). At it: 431 `headers_too_large`. */
  readonly maxHeaderBytes: number;
  /** Rate buckets remembered per limiter (least recently used dropped; a dropped bucket is full). */
  readonly rateBuckets: number;
}

/** Bounds of the two modes. */
export interface ModeLimits {
  /** Envelope lifetime (`--ttl-hours`); also how long a device counts as present after it was seen. */
  readonly ttlMs: number;
  /**
   * Charged bytes per vault (`--max-buffer`): bodies plus `envelopeOverheadBytes` each. At it:
   * 507 `buffer_full` with used and limit.
   */
  readonly maxBufferBytes: number;
  /** Bytes charged per envelope on top of its body (its row and index entries on disk). */
  readonly envelopeOverheadBytes: number;
  /** Envelopes stored per vault. At it: 507 `buffer_full` with envelopes and max_envelopes. */
  readonly maxEnvelopesPerVault: number;
  /** Charged bytes in the whole database (`--max-db-size`). At it: 507 `storage_full`. */
  readonly maxStoredBytes: number;
  /** Envelopes one acknowledgement deletes at most, so it stays short; later ones delete the rest. */
  readonly ackDeleteRows: number;
  /** Sends in one group-commit transaction. */
  readonly commitBatchEnvelopes: number;
  /** Body bytes in one group-commit transaction. */
  readonly commitBatchBytes: number;
  /** Expired envelopes deleted per sweep transaction; the sweep yields between them. */
  readonly sweepBatch: number;
  /** How often the expiry sweep runs. */
  readonly sweepIntervalMs: number;
  /** A device's last-seen time is written at most this often, unless it sends or acknowledges. */
  readonly touchIntervalMs: number;
  /** Devices whose last touch is remembered in memory (cleared beyond it; costs only writes). */
  readonly touchEntries: number;
  /** Stateless: vaults whose seq counter is kept (least recently used forgotten; seq restarts). */
  readonly statelessVaults: number;
  /** Stateless: idempotency keys remembered (oldest forgotten; a later retry is a new send). */
  readonly statelessKeys: number;
  /** Stateless: how long an idempotency key is remembered. */
  readonly statelessKeyLifetimeMs: number;
}

/** Bounds of watching the database file under the running relay. */
export interface StorageLimits {
  /**
   * How often the database file is checked for being deleted, replaced or made read-only (a write
   * also checks before it starts). At a fault: `/health` 503, 503 `storage_unavailable`.
   */
  readonly checkIntervalMs: number;
  /** Memory SQLite's page cache may hold (2 MiB, SQLite's own default, scaled by
   * `memory.budgetScale`). */
  readonly cacheBytes: number;
}

/**
 * Bounds of the libp2p node (`--p2p-port`). Per-address bounds count an IPv4 address or an IPv6
 * /64 as one address, like the HTTP side (`guard/client_address.ts` `addressKey`).
 */
export interface P2pLimits {
  /**
   * libp2p connections open at once, those in their handshake included: the p2p share of the
   * file-descriptor budget (`connections.p2pConnections`). At it: a new socket is closed at accept.
   */
  readonly maxConnections: number;
  /** Inbound connections still in their handshake (Noise, Yamux). At it: new ones closed at once. */
  readonly maxPendingConnections: number;
  /** Time an inbound connection may take to finish its handshake. At it: closed. */
  readonly handshakeTimeoutMs: number;
  /** New connections per second from one IP (js-libp2p's own check). Beyond it: closed at once. */
  readonly connectionsPerSecondPerIp: number;
  /** Connections open or in their handshake from one address. At it: new ones closed at once. */
  readonly connectionsPerAddress: number;
  /** Connections still in their handshake from one address. At it: new ones closed at once. */
  readonly pendingPerAddress: number;
  /** Streams a peer may have open on one connection. Beyond it: the new stream is reset. */
  readonly inboundStreamsPerConnection: number;
  /** Streams the relay opens on one connection (circuits, identify, ping). Beyond it: no circuit. */
  readonly outboundStreamsPerConnection: number;
  /**
   * Bytes one stream may have received but not yet processed (its Yamux window). A peer sending
   * more than its window has its connection closed; a stream whose buffer fills is reset.
   */
  readonly streamReadBytes: number;
  /** Bytes queued to a stream whose reader does not keep up. Beyond it: the stream is reset. */
  readonly streamWriteBytes: number;
  /** Circuit Relay reservations held (`--p2p-max-reservations`). At it: RESERVATION_REFUSED. */
  readonly reservations: number;
  /** Reservations from one address (`--p2p-max-reservations-per-ip`). At it: PERMISSION_DENIED. */
  readonly reservationsPerAddress: number;
  /** How long a reservation lasts unless refreshed (`--p2p-reservation-ttl`), in seconds. */
  readonly reservationTtlSeconds: number;
  /** Relayed circuits open to one reserving peer (`--p2p-max-circuits`). At it: circuit refused. */
  readonly circuitsPerPeer: number;
  /** Bytes one circuit carries (`--p2p-circuit-bytes`). At it: the circuit is closed. */
  readonly circuitBytes: number;
  /** Seconds one circuit stays open (`--p2p-circuit-seconds`). At it: the circuit is closed. */
  readonly circuitSeconds: number;
  /** Rendezvous registrations held (`--p2p-max-registrations`). At it: E_UNAVAILABLE. */
  readonly registrations: number;
  /** Registrations of one peer (`--p2p-max-registrations-per-peer`). At it: E_UNAVAILABLE. */
  readonly registrationsPerPeer: number;
  /** Registrations made from one address, by any of its peers. At it: E_UNAVAILABLE. */
  readonly registrationsPerAddress: number;
  /** Largest signed peer record in a registration. Beyond it: E_INVALID_SIGNED_PEER_RECORD. */
  readonly recordBytes: number;
  /**
   * Bytes of signed peer records held in memory by a relay without a database (stateless mode,
   * whose registrations live in memory). At it: E_UNAVAILABLE, like `registrations`.
   */
  readonly registrationMemoryBytes: number;
  /**
   * Largest rendezvous message (a record at its cap fits with its namespace). Beyond it: the
   * stream is reset without an answer.
   */
  readonly rendezvousMessageBytes: number;
  /** Registrations in one DISCOVER reply (the spec's `limit` is clamped to it); the cookie pages on. */
  readonly discoverRegistrations: number;
  /** Bytes of one DISCOVER reply: registrations beyond it wait for the next page (the cookie). */
  readonly discoverBytes: number;
  /** DISCOVER reply bytes being sent, in all. Beyond it: E_UNAVAILABLE ("busy"), retry later. */
  readonly discoverBytesInFlight: number;
  /** Rendezvous streams open on one connection. Beyond it: the new stream is reset. */
  readonly rendezvousStreamsPerConnection: number;
  /** Time a rendezvous stream may wait for a request or take to read an answer. At it: reset. */
  readonly rendezvousTimeoutMs: number;
  /**
   * Rendezvous requests answered per second for one address, all its peers and streams together.
   * Beyond it: the answer waits for its turn (a stream that waits `rendezvousTimeoutMs` is reset).
   */
  readonly rendezvousRequestsPerAddress: RateLimit;
}

/** Bounds of client connections (see `guard/connection_gate.ts` and `guard/fd_budget.ts`). */
export interface ConnectionLimits {
  /** The open-file limit the budget comes from (`--max-open-files`, or read, or 1024). */
  readonly openFileLimit: number;
  /** Where that limit came from. */
  readonly openFileSource: FdBudget["source"];
  /** Descriptors HTTP connections may hold (a waiting one or a socket the gate speaks itself
   * costs 1, one served through `Deno.serve` 3): the descriptor budget less the libp2p share,
   * and at most one per 64 KiB of the memory limit (1024 at 64 MiB). At it: a
   * connection of the address holding the most is dropped if that address holds more than the
   * newcomer's (waiting ones first, then unauthenticated sockets, then any); otherwise a
   * connection without a complete request head, then an unauthenticated socket, of the most
   * crowded address holding at least as many as the newcomer's (its oldest); with none, the new
   * connection is closed at once (`guard/connection_table.ts`). */
  readonly httpFds: number;
  /** libp2p connections (the p2p share of the descriptor budget). */
  readonly p2pConnections: number;
  /** Time to send a complete request head, and the next one on an idle keep-alive connection.
   * At it: the connection is closed. */
  readonly headerTimeoutMs: number;
  /** Largest request head (request line and headers). At it: 431 and the connection closed. */
  readonly maxHeadBytes: number;
  /** Time a socket's peer has to complete a close the relay started; then its TCP connection
   * is torn down. */
  readonly socketTeardownMs: number;
  /** Time from an error answer to a request whose body was not read whole (`Connection: close`)
   * to closing the connection, so the rest of the body is not read. */
  readonly closeAfterRefusalMs: number;
  /** Bytes the gate's copy buffers (1 KiB each to start, up to 64 KiB on a busy connection) may
   * grow by, together. At it: buffers stay small; connections copy in smaller steps. */
  readonly pumpBufferBytes: number;
  /** Connections the kernel queues until the relay accepts them (capped by the system's
   * `net.core.somaxconn`). At it: new connection attempts are dropped and clients retry. */
  readonly listenBacklog: number;
  /**
   * Whether the gate answers plain HTTP requests itself (`guard/plain_request.ts`) instead of
   * passing them to `Deno.serve` over the loopback hop: below 512 MiB of memory, where the hop's
   * buffers cost more than the gate's slower parse (docs/BENCHMARKS.md, "Fitting 64 MiB").
   */
  readonly answerPlainRequests: boolean;
}

/** Every bound of the relay. */
export interface Limits {
  readonly connections: ConnectionLimits;
  readonly http: HttpLimits;
  readonly socket: SocketLimits;
  readonly presence: PresenceLimits;
  readonly signatures: SignatureLimits;
  readonly admission: AdmissionLimits;
  readonly modes: ModeLimits;
  readonly memory: MemoryLimits;
  readonly storage: StorageLimits;
  readonly p2p: P2pLimits;
  /**
   * Vaults one client address may create (store a first envelope in), as a rate
   * (`--rate-limit-new-vaults`; `null` for none): a new key costs an attacker nothing, a new
   * vault costs the relay a quota. Beyond it: 429 `rate_limited` with scope `new_vaults`.
   */
  readonly newVaultsPerAddress: RateLimit | null;
}

/**
 * The relay's bounds for `config`. `maxDbBytes` is `--max-db-size` resolved at start (`auto`
 * depends on the free disk space; see `store/disk.ts`), `fds` the descriptor budget
 * (`guard/fd_budget.ts`).
 */
export function relayLimits(
  config: Config,
  resolved: { maxDbBytes: number; fds: FdBudget; memory: MemoryLimit },
): Limits {
  const scale = budgetScale(resolved.memory.bytes);
  /** An in-flight budget sized for 512 MiB of memory, scaled to the limit. */
  const scaled = (bytes: number) => Math.floor(bytes * scale);
  // The largest envelope and the frame around it: a client may always have one in flight.
  const oneEnvelope = config.maxEnvelope + 64 * KiB;
  const requestBytes = Math.max(scaled(12 * MiB), oneEnvelope);
  return {
    connections: {
      openFileLimit: resolved.fds.limit,
      openFileSource: resolved.fds.source,
      // A socket costs about 13 KiB, a request more: a quarter of the memory holds this many.
      httpFds: Math.min(resolved.fds.http, Math.floor(resolved.memory.bytes / (64 * KiB))),
      p2pConnections: resolved.fds.p2pConnections,
      headerTimeoutMs: 10_000,
      maxHeadBytes: config.maxHeaderBytes + 8 * KiB,
      socketTeardownMs: 3000,
      // Long enough for the answer to reach the client; the server would otherwise read on.
      closeAfterRefusalMs: 1000,
      // A burst of connections (thousands at once) must not overflow the queue: 511 did.
      listenBacklog: 4096,
      // 128 connections copying at full speed; before, 4096 slow bodies grew them to +325 MiB.
      pumpBufferBytes: scaled(8 * MiB),
      answerPlainRequests: scale < 1,
    },
    http: {
      maxEnvelopeBytes: config.maxEnvelope,
      maxAckBytes: 1 * KiB,
      bodyTimeoutMs: config.bodyTimeout * 1000,
      maxWaitSeconds: 30,
      maxPageEnvelopes: 1000,
      // Built whole, outside the byte budget (~4x this at once); fits a 1 MiB envelope and more.
      maxPageBytes: scaled(2 * MiB),
      longPolls: {
        perAddress: 16,
        perVault: 16,
        // Half the in-flight cap: waiting requests never hold the slots new ones need.
        total: Math.max(1, Math.floor(config.maxConnections / 2)),
      },
    },
    socket: {
      maxEnvelopeBytes: config.maxEnvelope,
      authTimeoutMs: 10_000,
      maxUnauthenticatedMessageBytes: 4 * KiB,
      maxMessageBytes: oneEnvelope,
      // A reader's mark (512 KiB) and a backlog page (1 MiB, or one envelope if larger), one
      // envelope more, and room for replies.
      maxQueuedBytes: 2 * MiB + 2 * oneEnvelope,
      // A lone reader's mark: 256 KiB cost a 64 KiB stream half its rate.
      highWaterBytes: 512 * KiB,
      // 32 readers that stop reading must cost the relay at most ~32 MiB (issue 13): together
      // they queue 2 MiB plus a frame each, where 512 KiB each came to +43 MiB (stateless).
      vaultQueueBytes: scaled(2 * MiB),
      minHighWaterBytes: 64 * KiB,
      slowReaderMs: 10_000,
      idleTimeoutSeconds: config.socketIdleTimeout,
      maxSocketsPerVault: config.maxSocketsPerVault,
      pumpPageEnvelopes: 256,
      // Smaller pages cut 64 KiB stored forwarding from 55 to 46 MB/s and raised its p50 to 1.7 s.
      pumpPageBytes: scaled(1 * MiB),
      closeWaitMs: 2000,
      maxSendsInFlight: 2048,
      // PROTOCOL.md tells clients to keep about 2 MiB in flight.
      maxSendBytesInFlight: 2 * MiB + 64 * KiB,
    },
    presence: {
      maxBlobBytes: 4 * KiB,
      maxTtlSeconds: 3600,
      maxEntries: 100_000,
      maxPerVault: 64,
      maxPerAddress: 1000,
    },
    signatures: {
      noncesPerVault: 20_000,
      noncesPerAddress: 50_000,
      noncesTotal: 500_000,
      keyCacheEntries: 10_000,
    },
    admission: {
      maxInFlight: config.maxConnections,
      maxInFlightPerAddress: config.maxConnectionsPerIp,
      maxHeaderBytes: config.maxHeaderBytes,
      rateBuckets: 100_000,
    },
    newVaultsPerAddress: config.rateLimitNewVaults,
    modes: {
      ttlMs: config.ttlHours * 3600_000,
      maxBufferBytes: config.maxBuffer,
      envelopeOverheadBytes: 512,
      maxEnvelopesPerVault: 10_000,
      maxStoredBytes: resolved.maxDbBytes,
      ackDeleteRows: 2000,
      commitBatchEnvelopes: 512,
      // The socket window (2 MiB) per transaction; larger batches only held bodies longer.
      commitBatchBytes: scaled(2 * MiB),
      sweepBatch: 500,
      sweepIntervalMs: 60_000,
      touchIntervalMs: 60_000,
      touchEntries: 100_000,
      statelessVaults: 100_000,
      statelessKeys: 100_000,
      statelessKeyLifetimeMs: 10 * 60_000,
    },
    // Sized for 512 MiB: held bodies cost ~2x in garbage, and a quarter of 12 MiB holds a socket
    // window. 31 stored readers pushed a backlog: +84 MiB, +50 MiB with a scavenge per 4 MiB.
    memory: {
      limitBytes: resolved.memory.bytes,
      limitSource: resolved.memory.source,
      budgetScale: scale,
      requestBytes,
      requestBytesPerAddress: Math.min(
        requestBytes,
        Math.max(Math.ceil(requestBytes / 4), oneEnvelope),
      ),
      // 32 stored readers that read nothing while their sender is refused at full speed: +38–40
      // MiB at one collection per 4 MiB, +31–32 per 1 MiB, at no cost a stream shows
      // (docs/BENCHMARKS.md, "V8 flags, scavenge pacing, signature fields and the gate's own
      // HTTP"). Below 512 KiB collections would outnumber what they free under a small limit.
      scavengeEveryBytes: Math.max(512 * KiB, scaled(1 * MiB)),
      // With full budgets (512 MiB or more) the heap's free pages are reused soon enough.
      checkEveryMs: scale < 1 ? 100 : 0,
      trimAboveBytes: Math.floor(resolved.memory.bytes * 0.5),
      refuseAboveBytes: Math.floor(resolved.memory.bytes * 0.85),
      resumeBelowBytes: Math.floor(resolved.memory.bytes * 0.75),
    },
    storage: { checkIntervalMs: 1000, cacheBytes: scaled(2 * MiB) },
    p2p: p2pLimits(config, resolved.fds),
  };
}

/**
 * The libp2p node's bounds for `config`. `fds` is the descriptor budget (`guard/fd_budget.ts`)
 * whose p2p share caps connections; without one, 256 (the share's most).
 */
export function p2pLimits(
  config: Config,
  fds: Pick<FdBudget, "p2pConnections"> = { p2pConnections: 256 },
): P2pLimits {
  const maxConnections = Math.max(1, fds.p2pConnections);
  return {
    maxConnections,
    maxPendingConnections: Math.min(32, maxConnections),
    handshakeTimeoutMs: 10_000,
    connectionsPerSecondPerIp: 5,
    connectionsPerAddress: 16,
    pendingPerAddress: 4,
    inboundStreamsPerConnection: 32,
    // A reserving peer's circuits are stop streams the relay opens, plus identify and ping.
    outboundStreamsPerConnection: config.p2pMaxCircuits + 16,
    // Yamux's initial window; it does not grow, as a circuit carries 128 KiB by default.
    streamReadBytes: 256 * KiB,
    streamWriteBytes: 256 * KiB,
    reservations: config.p2pMaxReservations,
    reservationsPerAddress: config.p2pMaxReservationsPerIp,
    reservationTtlSeconds: config.p2pReservationTtl,
    circuitsPerPeer: config.p2pMaxCircuits,
    circuitBytes: config.p2pCircuitBytes,
    circuitSeconds: config.p2pCircuitSeconds,
    registrations: config.p2pMaxRegistrations,
    registrationsPerPeer: config.p2pMaxRegistrationsPerPeer,
    registrationsPerAddress: 256,
    recordBytes: 4 * KiB,
    registrationMemoryBytes: 4 * MiB,
    rendezvousMessageBytes: 8 * KiB,
    discoverRegistrations: 100,
    discoverBytes: 128 * KiB,
    discoverBytesInFlight: 4 * MiB,
    rendezvousStreamsPerConnection: 8,
    rendezvousTimeoutMs: 30_000,
    rendezvousRequestsPerAddress: { perSecond: 20, burst: 64 },
  };
}
