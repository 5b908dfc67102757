/**
 * Counts of what the libp2p node refused, by reason, for the metrics endpoint, with one log line
 * per reason and minute at most: a flood of refusals must not become a flood of log lines. The
 * lines name no address or peer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { LOG_CATEGORY } from "../log.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** Why the node refused something a peer asked for. */
export type RefusalReason =
  | "connection_address"
  | "connection_pending_address"
  | "reservation_address"
  | "circuit_peer"
  | "registration_peer"
  | "registration_address"
  | "registration_total"
  | "record_size"
  | "discover_busy"
  | "rendezvous_rate";

const EXPLANATIONS: Record<RefusalReason, string> = {
  connection_address: "connections from one address at their cap",
  connection_pending_address: "handshakes from one address at their cap",
  reservation_address: "reservations from one address at their cap",
  circuit_peer: "circuits to one peer at their cap",
  registration_peer: "rendezvous registrations of one peer at their cap",
  registration_address: "rendezvous registrations from one address at their cap",
  registration_total: "rendezvous table full",
  record_size: "signed peer record over its size cap",
  discover_busy: "rendezvous discovery replies in flight at their cap",
  rendezvous_rate: "rendezvous requests from one address over their rate, answered later",
};

/** Refusal counts by reason, logged at most once a minute per reason. */
export class Refusals {
  readonly #counts = new Map<RefusalReason, number>();
  readonly #lastLogged = new Map<RefusalReason, { at: number; count: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Counts one refusal for `reason`. */
  count(reason: RefusalReason): void {
    const total = (this.#counts.get(reason) ?? 0) + 1;
    this.#counts.set(reason, total);
    const last = this.#lastLogged.get(reason);
    const now = this.#now();
    if (last && now - last.at < 60_000) return;
    this.#lastLogged.set(reason, { at: now, count: total });
    log.info("libp2p refused: {explanation} ({count} since the last such line)", {
      explanation: EXPLANATIONS[reason],
      reason,
      count: total - (last?.count ?? 0),
    });
  }

  /** Refusals so far, by reason. */
  snapshot(): Readonly<Partial<Record<RefusalReason, number>>> {
    return Object.fromEntries(this.#counts);
  }
}
