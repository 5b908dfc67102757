/**
 * The `/rendezvous/1.0.0` server (libp2p specs, rendezvous): peers register a signed peer record
 * under a namespace with a TTL, unregister, and discover others page by page with a cookie.
 * Registrations live in SQLite through {@linkcode RendezvousStore}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { lpStream } from "@libp2p/utils";
import { LOG_CATEGORY } from "../log.ts";
import type { RendezvousStore } from "../store/rendezvous.ts";
import {
  decodeCookie,
  decodeMessage,
  type Discover,
  type DiscoverResponse,
  encodeCookie,
  encodeMessage,
  MessageType,
  type Register,
  type RegisterResponse,
  ResponseStatus,
} from "./rendezvous_messages.ts";

const log = getLogger([LOG_CATEGORY, "p2p"]);

/** The protocol id. */
export const RENDEZVOUS_PROTOCOL = "/rendezvous/1.0.0";

/** TTL bounds in seconds, as the spec recommends: default and minimum 2 h, maximum 72 h. */
export const RENDEZVOUS_TTL = { default: 2 * 3600, min: 2 * 3600, max: 72 * 3600 } as const;

/** The longest namespace in UTF-8 bytes. */
export const MAX_NAMESPACE_BYTES = 255;

/** Registrations returned per discovery when the client asks for none or too many. */
export const MAX_DISCOVER_LIMIT = 1000;

/** Largest message accepted: a peer record with many addresses stays far below this. */
const MAX_MESSAGE_BYTES = 64 * 1024;

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

/** Serves the rendezvous protocol for one libp2p node. */
export class RendezvousServer {
  readonly #store: RendezvousStore;

  constructor(store: RendezvousStore) {
    this.#store = store;
  }

  /** Starts answering `/rendezvous/1.0.0` streams on `node`. */
  async start(node: Libp2p): Promise<void> {
    await node.handle(RENDEZVOUS_PROTOCOL, (stream, connection) => this.#serve(stream, connection));
  }

  /** Registrations held now. */
  count(): number {
    return this.#store.count();
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const frames = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
    try {
      // Clients usually send one request per stream; a few keep the stream for several.
      while (stream.status === "open" && !stream.readableEnded) {
        const request = decodeMessage((await frames.read()).subarray());
        const response = await this.#answer(request, connection.remotePeer);
        if (response) await frames.write(encodeMessage(response));
      }
      await stream.close();
    } catch (error) {
      if (stream.readableEnded || stream.status !== "open") return;
      log.debug("Rendezvous stream failed: {error}", { error: (error as Error).message });
      stream.abort(error as Error);
    }
  }

  async #answer(
    request: ReturnType<typeof decodeMessage>,
    remotePeer: PeerId,
  ): Promise<ReturnType<typeof decodeMessage> | undefined> {
    switch (request.type) {
      case MessageType.REGISTER:
        return {
          type: MessageType.REGISTER_RESPONSE,
          registerResponse: await this.#register(request.register ?? {}, remotePeer),
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

  async #register(register: Register, remotePeer: PeerId): Promise<RegisterResponse> {
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
    const refused = await verifiedRecord(register.signedPeerRecord, remotePeer);
    if (refused) {
      log.debug("Rendezvous registration of {peer} refused: {reason}", {
        peer: remotePeer.toString(),
        reason: refused.statusText,
      });
      return refused;
    }
    const outcome = this.#store.register({
      namespace: register.ns!,
      peerId: remotePeer.toString(),
      record: register.signedPeerRecord,
      ttlSeconds: Number(ttl),
    });
    if (!outcome.stored) {
      log.info("Rendezvous registration refused: {reason}", { reason: outcome.reason });
      return {
        status: ResponseStatus.E_UNAVAILABLE,
        statusText: outcome.reason === "peer-limit"
          ? "This peer holds as many registrations as the relay allows"
          : "The relay holds as many registrations as it allows",
      };
    }
    log.debug("Rendezvous registration of {peer} stored for {ttl} s", {
      peer: remotePeer.toString(),
      ttl: Number(ttl),
    });
    return { status: ResponseStatus.OK, ttl };
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
    const asked = discover.limit ?? 0n;
    const limit = asked <= 0n || asked > MAX_DISCOVER_LIMIT ? MAX_DISCOVER_LIMIT : Number(asked);
    this.#store.purgeExpired();
    const page = this.#store.discover({ namespace, afterId, limit });
    return {
      registrations: page.registrations.map((registration) => ({
        ns: registration.namespace,
        signedPeerRecord: registration.record,
        ttl: BigInt(registration.ttlSeconds),
      })),
      cookie: encodeCookie(page.lastId, namespace),
      status: ResponseStatus.OK,
    };
  }
}
