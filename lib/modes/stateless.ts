/**
 * Stateless mode: envelopes go only to devices connected now and never touch disk. Seqs and
 * idempotency keys are kept in memory only, bounded: seqs restart after a restart of the relay
 * (or for a vault idle long enough to be evicted), and a retry is recognised for ten minutes.
 *
 * @module
 */
import type { BacklogPage, ModeContext, RelayMode, SendOutcome } from "./mode.ts";

/** Vaults whose seq counter is kept; the least recently used are forgotten beyond it. */
const MAX_VAULTS = 100_000;
/** Idempotency keys remembered, and for how long. */
const MAX_KEYS = 100_000;
const KEY_LIFETIME_MS = 10 * 60_000;

/** Creates the stateless mode. The database holds only the relay's own state. */
export function createStatelessMode(context: ModeContext): RelayMode {
  const { clock, hub, config } = context;
  const latest = new Map<string, number>();
  const keys = new Map<string, { seq: number; expiresAt: number }>();
  const latestSeq = (vault: string) => latest.get(vault) ?? 0;

  const nextSeq = (vault: string): number => {
    const seq = latestSeq(vault) + 1;
    latest.delete(vault); // re-inserted last: the map stays in least-recently-used order
    latest.set(vault, seq);
    if (latest.size > MAX_VAULTS) latest.delete(latest.keys().next().value!);
    return seq;
  };

  const rememberKey = (key: string, seq: number, now: number): void => {
    for (const [oldKey, entry] of keys) {
      if (entry.expiresAt > now && keys.size < MAX_KEYS) break;
      keys.delete(oldKey);
    }
    keys.set(key, { seq, expiresAt: now + KEY_LIFETIME_MS });
  };

  return {
    name: "stateless",
    buffering: "disabled",
    async send(request): Promise<SendOutcome> {
      const now = clock.now();
      const key = request.idempotencyKey === undefined
        ? undefined
        : `${request.vault} ${request.from} ${request.idempotencyKey}`;
      const known = key === undefined ? undefined : keys.get(key);
      if (known && known.expiresAt > now) return { kind: "duplicate", seq: known.seq };
      const seq = nextSeq(request.vault);
      if (key !== undefined) rememberKey(key, seq, now);
      const recipients = hub.publish({
        vault: request.vault,
        seq,
        from: request.from,
        to: request.to,
        createdAt: now,
        expiresAt: now,
        body: request.body,
      });
      // The sender's answer waits until the readers have room: flow control without buffering.
      await hub.settled(request.vault);
      return { kind: "delivered", seq, recipients };
    },
    backlog(query): BacklogPage {
      return { envelopes: [], acked: 0, latestSeq: latestSeq(query.vault) };
    },
    ack: (vault, _device, seq) =>
      seq > latestSeq(vault)
        ? { kind: "beyond_latest", latest: latestSeq(vault) }
        : { kind: "acked", acked: seq, deleted: 0 },
    purge: () => 0,
    usage: (vault) => ({
      usedBytes: 0,
      limitBytes: config.maxBuffer,
      envelopes: 0,
      devices: hub.devicesOnline(vault).size,
      latestSeq: latestSeq(vault),
    }),
    touch: () => {},
    totals: () => ({ envelopes: 0, bytes: 0, vaultsWithData: 0 }),
    close: () => Promise.resolve(),
  };
}
