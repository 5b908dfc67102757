/**
 * Store-and-forward mode: envelopes persist in SQLite until every device has acknowledged them,
 * their TTL ends or the vault is purged. Sends and acknowledgements share transactions (group
 * commit); an answer of "stored" means the envelope is on disk.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type AppendOutcome,
  EnvelopeStore,
  StorageFullError,
  type StoreAck,
  type StoreWrite,
} from "../store/envelopes.ts";
import { GroupCommit } from "../store/group_commit.ts";
import { LOG_CATEGORY } from "../log.ts";
import type { ModeContext, RelayMode } from "./mode.ts";
import type { AckOutcome, Envelope, SendOutcome, SendRequest } from "../protocol/envelope.ts";
import { ackBeyondLatest, bufferFull, storageFull } from "./refusals.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { isDiskFull } from "../store/sql.ts";

const log = getLogger([LOG_CATEGORY, "store-and-forward"]);

/** Observers of the store-and-forward mode, for metrics. */
export interface StoreAndForwardObservers {
  /** Called after each group commit. */
  readonly onCommit?: (batchSize: number, milliseconds: number) => void;
  /** Called with the number of envelopes each sweep found expired. */
  readonly onExpired?: (count: number) => void;
}

/** The store-and-forward mode, plus its expiry sweep (exposed for tests). */
export interface StoreAndForwardMode extends RelayMode {
  /** Deletes expired envelopes now; resolves with how many. */
  sweep(): Promise<number>;
}

/** Runs `work`, turning a full disk into the protocol's `storage_full`. */
function storing<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof StorageFullError) throw storageFull();
    throw error;
  }
}

/** Turns the store's outcome of one append into the mode's, or the refusal it is. */
function sendOutcome(outcome: AppendOutcome, recipients: () => number): SendOutcome | Error {
  if (outcome.kind === "full") return bufferFull(outcome);
  if (outcome.kind === "storage_full") return storageFull();
  if (outcome.kind === "refused") return outcome.error as Error;
  if (outcome.kind === "duplicate") return outcome;
  return { ...outcome, recipients: recipients() };
}

/** Turns the store's outcome of one acknowledgement into the mode's, or the refusal it is. */
function ackOutcome(outcome: StoreAck, seq: number): AckOutcome | Error {
  if (outcome.kind === "beyond_latest") return ackBeyondLatest(seq, outcome.latest);
  return { acked: outcome.acked, deleted: outcome.deleted };
}

/** Creates the store-and-forward mode on the relay's database. */
export function createStoreAndForwardMode(
  context: ModeContext,
  observers: StoreAndForwardObservers = {},
): StoreAndForwardMode {
  const { clock, hub, limits } = context;
  const store = new EnvelopeStore(context.database, limits);
  const lastTouch = new Map<string, number>();

  /** Publishes a committed envelope to live subscribers; a failing subscriber costs no send. */
  const publish = (envelope: Envelope): number => {
    try {
      return hub.publish(envelope);
    } catch (error) {
      log.error("Live delivery failed after commit: {error}", { error });
      return 0;
    }
  };

  /** A vault's first envelope charges the address it came from (429 beyond its budget). */
  const admitNewVault = (item: SendRequest) => {
    if (item.origin !== undefined) context.chargeNewVault?.(item.origin);
  };
  /**
   * Commits sends and acknowledgements together, in the order they came: an acknowledgement
   * shares the fsync of the sends around it instead of paying one of its own.
   */
  const commitBatch = (items: readonly StoreWrite[]): (SendOutcome | AckOutcome | Error)[] => {
    const now = clock.now();
    const outcomes = storing(() => store.writeBatch(items, now, admitNewVault));
    return outcomes.map((outcome, i) => {
      const item = items[i]!;
      if (item.kind === "ack") return ackOutcome(outcome as StoreAck, item.seq);
      return sendOutcome(outcome as AppendOutcome, () => {
        const { seq, expiresAt } = outcome as { seq: number; expiresAt: number };
        return publish({ ...item.request, seq, createdAt: now, expiresAt });
      });
    });
  };
  const writes = new GroupCommit(commitBatch, {
    maxItems: limits.commitBatchEnvelopes,
    maxBytes: limits.commitBatchBytes,
    sizeOf: (item: StoreWrite) => item.kind === "append" ? item.request.body.byteLength : 0,
    observe: observers.onCommit,
  });

  const sweep = async (): Promise<number> => {
    let total = 0;
    for (let deleted = limits.sweepBatch; deleted === limits.sweepBatch; total += deleted) {
      deleted = store.sweepExpired(clock.now(), limits.sweepBatch);
      // One short transaction at a time: requests run between slices.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (total > 0) log.info("Expired {count} envelopes", { count: total });
    if (total > 0) observers.onExpired?.(total);
    return total;
  };
  // A failing sweep (full disk, storage fault) is retried each interval and logged once.
  let sweepFailing = false;
  const sweeper = setInterval(() => {
    sweep().then(() => {
      if (sweepFailing) log.info("Expiry sweep works again");
      sweepFailing = false;
    }, (error) => {
      if (!sweepFailing) {
        log.error("Expiry sweep failed; retrying each interval: {error}", { error });
      }
      sweepFailing = true;
    });
  }, limits.sweepIntervalMs);

  /**
   * Records a device as seen. Best effort: a read must not fail because the disk is full or the
   * database refuses writes, so such a failure only forgets the touch, to be tried again.
   */
  const touch = (vault: string, device: string) => {
    const now = clock.now();
    const key = `${vault} ${device}`;
    if (now - (lastTouch.get(key) ?? -Infinity) < limits.touchIntervalMs) return;
    if (lastTouch.size >= limits.touchEntries) lastTouch.clear();
    lastTouch.set(key, now);
    try {
      store.touchDevice(vault, device, now);
    } catch (error) {
      lastTouch.delete(key);
      if (!(error instanceof ProtocolError || isDiskFull(error))) throw error;
    }
  };

  return {
    name: "store-and-forward",
    buffering: "enabled",
    send: (request) => writes.submit({ kind: "append", request }) as Promise<SendOutcome>,
    backlog: (query) =>
      run(() => {
        const acked = store.cursorOf(query.vault, query.device);
        const envelopes = store.backlog({
          vault: query.vault,
          device: query.device,
          after: query.after ?? acked,
          limit: query.limit,
          maxBytes: query.maxBytes,
          now: clock.now(),
        });
        return { envelopes, acked, latestSeq: store.latestSeq(query.vault) };
      }),
    ack: (vault, device, seq) =>
      writes.submit({ kind: "ack", vault, device, seq }) as Promise<AckOutcome>,
    purge: (vault) =>
      run(() => {
        for (const key of lastTouch.keys()) if (key.startsWith(`${vault} `)) lastTouch.delete(key);
        return storing(() => store.purge(vault, clock.now()));
      }),
    usage: (vault) => run(() => store.usage(vault, clock.now())),
    touch: (vault, device) => run(() => touch(vault, device)),
    totals: () => store.totals(),
    sweep,
    async close() {
      clearInterval(sweeper);
      await writes.drained();
    },
  };
}

/** Runs synchronous store work as a promise, so a throw becomes a rejection. */
function run<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
