/**
 * Stateless mode: envelopes go only to devices connected now and never touch disk. Seqs are
 * counted in memory per vault, so they restart after a restart of the relay.
 *
 * @module
 */
import type { BacklogPage, ModeContext, RelayMode, SendOutcome } from "./mode.ts";

/** Creates the stateless mode. The database holds only the relay's own state. */
export function createStatelessMode(context: ModeContext): RelayMode {
  const { clock, hub, config } = context;
  const latest = new Map<string, number>();
  const latestSeq = (vault: string) => latest.get(vault) ?? 0;

  return {
    name: "stateless",
    buffering: "disabled",
    async send(request): Promise<SendOutcome> {
      const seq = latestSeq(request.vault) + 1;
      latest.set(request.vault, seq);
      const now = clock.now();
      const recipients = hub.publish({
        vault: request.vault,
        seq,
        from: request.from,
        to: request.to,
        createdAt: now,
        expiresAt: now,
        body: request.body,
      });
      if (recipients === 0 && hub.devicesOnline(request.vault).size === 0) {
        latest.delete(request.vault);
      }
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
    purge: (vault) => {
      latest.delete(vault);
      return 0;
    },
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
