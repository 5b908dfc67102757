/**
 * Store-and-forward mode: envelopes persist in SQLite until every device has acknowledged them,
 * their TTL ends or the vault is purged. Sends share transactions (group commit); an answer of
 * "stored" means the envelope is on disk.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { EnvelopeStore, type NewEnvelope, type StoredEnvelope } from "../store/envelopes.ts";
import { GroupCommit } from "../store/group_commit.ts";
import { LOG_CATEGORY } from "../log.ts";
import type {
  BacklogPage,
  BacklogQuery,
  Envelope,
  ModeContext,
  RelayMode,
  SendOutcome,
  SendRequest,
} from "./mode.ts";

const log = getLogger([LOG_CATEGORY, "store-and-forward"]);

/** Options of the store-and-forward mode beyond the relay's configuration. */
export interface StoreAndForwardOptions {
  /** How often the expiry sweeper runs. */
  readonly sweepIntervalMs?: number;
  /** Called after each group commit, for metrics. */
  readonly onCommit?: (batchSize: number, milliseconds: number) => void;
  /** Called with the number of envelopes each sweep found expired, for metrics. */
  readonly onExpired?: (count: number) => void;
}

const SWEEP_BATCH = 500;
/** A device's "last seen" is written at most this often, unless it sends or acknowledges. */
const TOUCH_INTERVAL_MS = 60_000;

function toEnvelope(vault: string, stored: StoredEnvelope): Envelope {
  return {
    vault,
    seq: stored.seq,
    from: stored.sender,
    to: stored.recipient,
    createdAt: stored.createdAt,
    expiresAt: stored.expiresAt,
    body: stored.body,
  };
}

/** Creates the store-and-forward mode on the relay's database. */
export function createStoreAndForwardMode(
  context: ModeContext,
  options: StoreAndForwardOptions = {},
): RelayMode & { sweep(): number } {
  const { config, clock, hub } = context;
  const store = new EnvelopeStore(context.database, {
    ttlMs: config.ttlHours * 3600_000,
    maxBufferBytes: config.maxBuffer,
  });
  const lastTouch = new Map<string, number>();

  const commitBatch = (items: readonly NewEnvelope[]): SendOutcome[] => {
    const now = clock.now();
    return store.appendBatch(items, now).map((outcome, i) => {
      if (outcome.kind !== "stored") return outcome;
      const item = items[i]!;
      const recipients = hub.publish({
        vault: item.vault,
        seq: outcome.seq,
        from: item.sender,
        to: item.recipient,
        createdAt: now,
        expiresAt: outcome.expiresAt,
        body: item.body,
      });
      return { ...outcome, recipients };
    });
  };
  const writes = new GroupCommit(commitBatch, 512, options.onCommit);

  const sweep = (): number => {
    let total = 0;
    for (let deleted = SWEEP_BATCH; deleted === SWEEP_BATCH; total += deleted) {
      deleted = store.sweepExpired(clock.now(), SWEEP_BATCH);
    }
    if (total > 0) log.info("Expired {count} envelopes", { count: total });
    if (total > 0) options.onExpired?.(total);
    return total;
  };
  const sweeper = setInterval(() => {
    try {
      sweep();
    } catch (error) {
      log.error("Expiry sweep failed: {error}", { error });
    }
  }, options.sweepIntervalMs ?? 60_000);

  return {
    name: "store-and-forward",
    buffering: "enabled",
    send: (request: SendRequest) =>
      writes.submit({
        vault: request.vault,
        sender: request.from,
        recipient: request.to,
        body: request.body,
        idempotencyKey: request.idempotencyKey,
      }),
    backlog(query: BacklogQuery): BacklogPage {
      const acked = store.cursorOf(query.vault, query.device);
      const stored = store.backlog({
        vault: query.vault,
        device: query.device,
        after: query.after ?? acked,
        limit: query.limit,
        maxBytes: query.maxBytes,
        now: clock.now(),
      });
      return {
        envelopes: stored.map((envelope) => toEnvelope(query.vault, envelope)),
        acked,
        latestSeq: store.latestSeq(query.vault),
      };
    },
    ack: (vault, device, seq) => store.ack(vault, device, seq, clock.now()),
    purge(vault) {
      for (const key of lastTouch.keys()) if (key.startsWith(`${vault} `)) lastTouch.delete(key);
      return store.purge(vault);
    },
    usage: (vault) => store.usage(vault, clock.now()),
    touch(vault, device) {
      const now = clock.now();
      const key = `${vault} ${device}`;
      if (now - (lastTouch.get(key) ?? -Infinity) < TOUCH_INTERVAL_MS) return;
      if (lastTouch.size > 100_000) lastTouch.clear();
      lastTouch.set(key, now);
      store.touchDevice(vault, device, now);
    },
    totals: () => store.totals(),
    sweep,
    async close() {
      clearInterval(sweeper);
      await writes.drained();
    },
  };
}
