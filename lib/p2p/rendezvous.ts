/**
 * The `/rendezvous/1.0.0` server (libp2p specs, rendezvous): peers register a signed peer record
 * under a namespace with a TTL, unregister, and discover others page by page with a cookie.
 * Registrations live in SQLite (`RendezvousStore`), or in memory in stateless mode. This module serves the streams
 * (framing, deadlines, the per-address pace, the bytes of replies in flight); the answers to
 * requests are `rendezvous_requests.ts`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { LOG_CATEGORY } from "../log.ts";
import { systemClock } from "../clock.ts";
import { TokenBuckets } from "../guard/rate_limit.ts";
import type { P2pLimits } from "../limits.ts";
import type { Registrations } from "../store/rendezvous.ts";
import { peerAddressKey } from "./addresses.ts";
import type { Refusals } from "./refusals.ts";
import {
  decodeMessage,
  encodeMessage,
  MessageType,
  ResponseStatus,
} from "./rendezvous_messages.ts";
import { RendezvousRequests } from "./rendezvous_requests.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** The protocol id. */
export const RENDEZVOUS_PROTOCOL = "/rendezvous/1.0.0";

/** The limits of {@linkcode RendezvousServer}, a part of `P2pLimits`. */
export type RendezvousLimits = Pick<
  P2pLimits,
  | "recordBytes"
  | "rendezvousMessageBytes"
  | "discoverRegistrations"
  | "discoverBytes"
  | "discoverBytesInFlight"
  | "rendezvousStreamsPerConnection"
  | "rendezvousTimeoutMs"
  | "rendezvousRequestsPerAddress"
>;

/** Rate buckets remembered: far more than the addresses that can hold connections at once. */
const RATE_BUCKETS = 4096;

/** Options of {@linkcode RendezvousServer}. */
export interface RendezvousServerOptions {
  readonly store: Registrations;
  readonly limits: RendezvousLimits;
  /** Where refusals are counted (and logged, rate-limited). */
  readonly refusals?: Refusals;
}

/**
 * One deadline per stream, re-armed for each read and write: `AbortSignal.timeout` per message
 * would leave a timer alive for the whole timeout after each message, thousands of them under a
 * flood of requests.
 */
class Deadline implements Disposable {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Options whose signal aborts `ms` from now unless re-armed again. */
  rearm(): { signal: AbortSignal } {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#controller.abort(new DOMException("Rendezvous stream timed out", "TimeoutError")),
      this.#ms,
    );
    return { signal: this.#controller.signal };
  }

  /** Aborts now: the stream is gone, nothing on it should wait any longer. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#controller.abort(new DOMException("Rendezvous stream closed", "AbortError"));
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
  }
}

/** Resolves after `ms`, or rejects with `signal`'s reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Serves the rendezvous protocol for one libp2p node. */
export class RendezvousServer {
  readonly #store: Registrations;
  readonly #limits: RendezvousLimits;
  readonly #refusals: Refusals | undefined;
  readonly #requests: RendezvousRequests;
  /** Bytes of replies handed to streams and not yet taken by the peers. */
  #replyBytesInFlight = 0;
  /** Requests answered per address; real time, as the waits it asks for are real too. */
  readonly #rates: TokenBuckets;

  constructor(options: RendezvousServerOptions) {
    this.#store = options.store;
    this.#limits = options.limits;
    this.#refusals = options.refusals;
    this.#requests = new RendezvousRequests(options);
    this.#rates = new TokenBuckets(options.limits.rendezvousRequestsPerAddress, {
      clock: systemClock,
      capacity: RATE_BUCKETS,
    });
  }

  /** Starts answering `/rendezvous/1.0.0` streams on `node`. */
  async start(node: Libp2p): Promise<void> {
    await node.handle(
      RENDEZVOUS_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      { maxInboundStreams: this.#limits.rendezvousStreamsPerConnection },
    );
  }

  /** Registrations held now. */
  count(): number {
    return this.#store.count();
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const frames = lpStream(stream, {
      maxDataLength: this.#limits.rendezvousMessageBytes,
      // Room for a few pipelined requests; a peer that sends more without reading is cut off.
      maxBufferSize: 4 * this.#limits.rendezvousMessageBytes,
    });
    using deadline = new Deadline(this.#limits.rendezvousTimeoutMs);
    const timeout = () => deadline.rearm();
    stream.addEventListener("close", () => deadline.cancel(), { once: true });
    const address = peerAddressKey(connection.remoteAddr);
    try {
      // Clients usually send one request per stream; a few keep the stream for several.
      while (stream.status === "open" && !stream.readableEnded) {
        const request = decodeMessage((await frames.read(timeout())).subarray());
        // A peer that waits for each answer is slowed to the rate; one that does not fills its
        // stream's read buffer and is cut off.
        await this.#pace(address, timeout().signal);
        const response = await this.#requests.answer(request, connection);
        if (!response) continue;
        let reply = encodeMessage(response);
        if (
          response.type === MessageType.DISCOVER_RESPONSE &&
          this.#replyBytesInFlight + reply.byteLength > this.#limits.discoverBytesInFlight
        ) {
          this.#refusals?.count("discover_busy");
          reply = encodeMessage({
            type: MessageType.DISCOVER_RESPONSE,
            discoverResponse: {
              registrations: [],
              status: ResponseStatus.E_UNAVAILABLE,
              statusText: "The relay is busy answering discoveries; retry in a few seconds",
            },
          });
        }
        this.#replyBytesInFlight += reply.byteLength;
        try {
          await frames.write(reply, timeout());
        } finally {
          this.#replyBytesInFlight -= reply.byteLength;
        }
      }
    } catch (error) {
      if (stream.status !== "open") return;
      // The peer closed its end between requests: close ours too, or the stream lingers until
      // Yamux's inactivity timeout and holds one of the connection's rendezvous streams.
      if (!stream.readableEnded) {
        log.debug("Rendezvous stream failed: {error}", { error: (error as Error).message });
        stream.abort(error as Error);
        return;
      }
    }
    try {
      await stream.close(timeout());
    } catch (error) {
      stream.abort(error as Error);
    }
  }

  /** Waits until `address` may have another request answered, or `signal` aborts. */
  async #pace(address: string, signal: AbortSignal): Promise<void> {
    let counted = false;
    for (;;) {
      const taken = this.#rates.take(address);
      if (taken.allowed) return;
      if (!counted) this.#refusals?.count("rendezvous_rate");
      counted = true;
      await sleep(taken.retryAfterSeconds * 1000, signal);
    }
  }
}
