/**
 * Answering rendezvous requests (libp2p specs, rendezvous): REGISTER a signed peer record under
 * a namespace with a TTL, UNREGISTER, and DISCOVER page by page with a cookie, each within the
 * relay's caps. How requests arrive and replies leave is `rendezvous.ts`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Connection, PeerId } from "@libp2p/interface";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { LOG_CATEGORY } from "../log.ts";
import type { P2pLimits } from "../limits.ts";
import type { RegisterRefusal, Registrations } from "../store/rendezvous.ts";
import { peerAddressKey } from "./addresses.ts";
import type { RefusalReason, Refusals } from "./refusals.ts";
import {
  decodeCookie,
  type Discover,
  discoveredRegistrationBytes,
  type DiscoverResponse,
  encodeCookie,
  MessageType,
  type Register,
  type RegisterResponse,
  type RendezvousMessage,
  ResponseStatus,
} from "./rendezvous_messages.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** TTL bounds in seconds, as the spec recommends: default and minimum 2 h, maximum 72 h. */
export const RENDEZVOUS_TTL = { default: 2 * 3600, min: 2 * 3600, max: 72 * 3600 } as const;

/** The longest namespace in UTF-8 bytes. */
export const MAX_NAMESPACE_BYTES = 255;

/**
 * Room in a DISCOVER reply for everything but its registrations: the cookie (8 bytes and a
 * namespace of up to 255), the status, the message framing and the length prefix.
 */
const DISCOVER_FRAMING_BYTES = 512;

/** The limits of {@linkcode RendezvousRequests}, a part of `P2pLimits`. */
export type RendezvousRequestLimits = Pick<
  P2pLimits,
  "recordBytes" | "discoverRegistrations" | "discoverBytes"
>;

const REGISTER_REFUSALS: Record<RegisterRefusal, { reason: RefusalReason; text: string }> = {
  "peer-limit": {
    reason: "registration_peer",
    text: "This peer holds as many registrations as the relay allows",
  },
  "address-limit": {
    reason: "registration_address",
    text: "Peers at this address hold as many registrations as the relay allows",
  },
  "total-limit": {
    reason: "registration_total",
    text: "The relay holds as many registrations as it allows",
  },
};

const encoder = new TextEncoder();

function namespaceProblem(namespace: string | undefined): string | undefined {
  if (namespace === undefined || namespace === "") return "a namespace is required";
  const length = encoder.encode(namespace).byteLength;
  return length > MAX_NAMESPACE_BYTES
    ? `namespace of ${length} bytes is longer than ${MAX_NAMESPACE_BYTES}`
    : undefined;
}

async function verifiedRecord(
  bytes: Uint8Array,
  remotePeer: PeerId,
): Promise<RegisterResponse | undefined> {
  let signer: PeerId, recordPeer: PeerId;
  try {
    const envelope = await RecordEnvelope.openAndCertify(bytes, PeerRecord.DOMAIN);
    signer = peerIdFromPublicKey(envelope.publicKey);
    recordPeer = PeerRecord.createFromProtobuf(envelope.payload).peerId;
  } catch (error) {
    return {
      status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD,
      statusText: `Signed peer record is invalid: ${(error as Error).message}`,
    };
  }
  if (!signer.equals(recordPeer) || !recordPeer.equals(remotePeer)) {
    return {
      status: ResponseStatus.E_NOT_AUTHORIZED,
      statusText: "Signed peer record is not for the peer on this connection",
    };
  }
  return undefined;
}

/** Options of {@linkcode RendezvousRequests}. */
export interface RendezvousRequestsOptions {
  readonly store: Registrations;
  readonly limits: RendezvousRequestLimits;
  /** Where refusals are counted (and logged, rate-limited). */
  readonly refusals?: Refusals | undefined;
}

/** Answers the rendezvous requests of peers, against the registrations in the store. */
export class RendezvousRequests {
  readonly #store: Registrations;
  readonly #limits: RendezvousRequestLimits;
  readonly #refusals: Refusals | undefined;

  constructor(options: RendezvousRequestsOptions) {
    this.#store = options.store;
    this.#limits = options.limits;
    this.#refusals = options.refusals;
  }

  /**
   * The reply to `request` from the peer on `connection`; `undefined` for UNREGISTER, which has
   * none.
   *
   * @throws {TypeError} for a message that is not a request.
   */
  async answer(
    request: RendezvousMessage,
    connection: Connection,
  ): Promise<RendezvousMessage | undefined> {
    const remotePeer = connection.remotePeer;
    switch (request.type) {
      case MessageType.REGISTER:
        return {
          type: MessageType.REGISTER_RESPONSE,
          registerResponse: await this.#register(request.register ?? {}, connection),
        };
      case MessageType.UNREGISTER: {
        const namespace = request.unregister?.ns;
        if (namespace !== undefined && this.#store.unregister(namespace, remotePeer.toString())) {
          log.debug("Rendezvous registration of {peer} removed", { peer: remotePeer.toString() });
        }
        return undefined;
      }
      case MessageType.DISCOVER:
        return {
          type: MessageType.DISCOVER_RESPONSE,
          discoverResponse: this.#discover(request.discover ?? {}),
        };
      default:
        throw new TypeError(`Unexpected rendezvous message type ${JSON.stringify(request.type)}`);
    }
  }

  async #register(register: Register, connection: Connection): Promise<RegisterResponse> {
    const remotePeer = connection.remotePeer;
    const problem = namespaceProblem(register.ns);
    if (problem) return { status: ResponseStatus.E_INVALID_NAMESPACE, statusText: problem };
    const ttl = register.ttl ?? BigInt(RENDEZVOUS_TTL.default);
    if (ttl < RENDEZVOUS_TTL.min || ttl > RENDEZVOUS_TTL.max) {
      return {
        status: ResponseStatus.E_INVALID_TTL,
        statusText: `TTL "${ttl}" is outside ${RENDEZVOUS_TTL.min}..${RENDEZVOUS_TTL.max} seconds`,
      };
    }
    if (!register.signedPeerRecord) {
      return {
        status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD,
        statusText: "A signed peer record is required",
      };
    }
    const recordBytes = register.signedPeerRecord.byteLength;
    if (recordBytes > this.#limits.recordBytes) {
      this.#refusals?.count("record_size");
      return {
        status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD,
        statusText: `Signed peer record of ${recordBytes} bytes is larger than ` +
          `${this.#limits.recordBytes}: announce fewer addresses`,
      };
    }
    const registration = {
      namespace: register.ns!,
      peerId: remotePeer.toString(),
      address: peerAddressKey(connection.remoteAddr),
    };
    // A registration no cap would let in is refused before its signature costs any work.
    const full = this.#store.refusal(registration);
    if (full) return this.#refuse(full);
    const refused = await verifiedRecord(register.signedPeerRecord, remotePeer);
    if (refused) {
      log.debug("Rendezvous registration of {peer} refused: {reason}", {
        peer: remotePeer.toString(),
        reason: refused.statusText,
      });
      return refused;
    }
    let outcome;
    try {
      outcome = this.#store.register({
        ...registration,
        record: register.signedPeerRecord,
        ttlSeconds: Number(ttl),
      });
    } catch (error) {
      // A full disk or a storage fault; the HTTP side reports those.
      log.warn("Rendezvous registration not stored: {error}", { error: (error as Error).message });
      return {
        status: ResponseStatus.E_UNAVAILABLE,
        statusText: "The relay cannot store registrations now",
      };
    }
    if (!outcome.stored) return this.#refuse(outcome.reason);
    log.debug("Rendezvous registration of {peer} stored for {ttl} s", {
      peer: remotePeer.toString(),
      ttl: Number(ttl),
    });
    return { status: ResponseStatus.OK, ttl };
  }

  #refuse(reason: RegisterRefusal): RegisterResponse {
    const refusal = REGISTER_REFUSALS[reason];
    this.#refusals?.count(refusal.reason);
    return { status: ResponseStatus.E_UNAVAILABLE, statusText: refusal.text };
  }

  #discover(discover: Discover): DiscoverResponse {
    const namespace = discover.ns === "" ? undefined : discover.ns;
    if (namespace !== undefined) {
      const problem = namespaceProblem(namespace);
      if (problem) {
        return {
          registrations: [],
          status: ResponseStatus.E_INVALID_NAMESPACE,
          statusText: problem,
        };
      }
    }
    let afterId = 0;
    if (discover.cookie && discover.cookie.byteLength > 0) {
      const cookie = decodeCookie(discover.cookie);
      if (!cookie || cookie.namespace !== namespace || cookie.lastId > this.#store.highestId()) {
        return {
          registrations: [],
          status: ResponseStatus.E_INVALID_COOKIE,
          statusText: "Cookie was not issued for this namespace by this relay",
        };
      }
      afterId = cookie.lastId;
    }
    const most = this.#limits.discoverRegistrations;
    const asked = discover.limit ?? 0n;
    const limit = asked <= 0n || asked > most ? most : Number(asked);
    this.#store.purgeExpired();
    const page = this.#store.discover({ namespace, afterId, limit });
    // Registrations that would take the reply past its byte cap wait for the next page; the
    // first always goes, so paging moves on.
    let room = this.#limits.discoverBytes - DISCOVER_FRAMING_BYTES;
    let lastId = afterId;
    const registrations: Register[] = [];
    for (const found of page.registrations) {
      const registration = {
        ns: found.namespace,
        signedPeerRecord: found.record,
        ttl: BigInt(found.ttlSeconds),
      };
      room -= discoveredRegistrationBytes(registration);
      if (room < 0 && registrations.length > 0) break;
      registrations.push(registration);
      lastId = found.id;
    }
    if (registrations.length === page.registrations.length) lastId = page.lastId;
    return { registrations, cookie: encodeCookie(lastId, namespace), status: ResponseStatus.OK };
  }
}
