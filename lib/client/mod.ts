/**
 * Reference client for VaultMesh relay protocol 3. It signs every request with the vault's
 * Ed25519 key (RFC 9421, RFC 9530) and speaks every HTTP endpoint. Deriving the vault key from
 * the vault secret is the application's business: pass a key pair and a device label.
 *
 * @example
 * ```ts
 * import { generateVaultKeys, RelayClient } from "@vaultmesh/relay/client";
 *
 * const keys = await generateVaultKeys();
 * const laptop = await RelayClient.create({ url: "https://relay.example.org", keys, device: "laptop" });
 * const { seq } = await laptop.send(new TextEncoder().encode("ciphertext"));
 * ```
 *
 * @module
 */
import { vaultIdOf } from "../protocol/identity.ts";
import {
  decodeEnvelopeFrame,
  encodeSendFrame,
  SOCKET_SUBPROTOCOL,
  socketAuthMessage,
} from "../protocol/socket_frames.ts";
import {
  authorityOf,
  contentDigest,
  REQUIRED_COMPONENTS,
  serializeSignatureParams,
  signatureBase,
  type SignatureParams,
} from "../protocol/signature_base.ts";

/** An error answer from the relay. */
export class RelayError extends Error {
  override name = "RelayError";

  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The relay's error code, e.g. `buffer_full`. */
    readonly code: string,
    message: string,
    /** The whole JSON error body. */
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Creates a new extractable Ed25519 key pair for a vault. */
export async function generateVaultKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

/** Imports an Ed25519 key pair from its 32-byte seed (the RFC 8032 private key). */
export async function vaultKeysFromSeed(seed: Uint8Array): Promise<CryptoKeyPair> {
  if (seed.length !== 32) throw new RangeError(`Expected a 32-byte seed, got ${seed.length} bytes`);
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410); WebCrypto derives the public key.
  const pkcs8 = new Uint8Array([
    0x30,
    0x2e,
    0x02,
    0x01,
    0x00,
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    0x70,
    0x04,
    0x22,
    0x04,
    0x20,
    ...seed,
  ]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: x! },
    "Ed25519",
    true,
    ["verify"],
  );
  return { privateKey, publicKey };
}

/** The vault id (unpadded base64url public key) of a key pair. */
export async function vaultIdOfKeys(keys: CryptoKeyPair): Promise<string> {
  return vaultIdOf(new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey)));
}

/** A request to sign. */
export interface UnsignedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body?: Uint8Array<ArrayBuffer> | undefined;
}

/** What {@linkcode signRequest} needs besides the request. */
export interface SigningOptions {
  readonly privateKey: CryptoKey;
  readonly keyid: string;
  /** Seconds since the epoch; defaults to now. */
  readonly created?: number;
  /** Defaults to 16 random bytes, base64url. */
  readonly nonce?: string;
}

/** The signature base and headers added by {@linkcode signRequest}. */
export interface SignedParts {
  readonly signatureBase: string;
  readonly signatureInput: string;
  readonly signature: string;
}

/**
 * Adds `Content-Digest` (when there is a body), `Signature-Input` and `Signature` to
 * `request.headers`, covering the protocol's required components.
 */
export async function signRequest(
  request: UnsignedRequest,
  options: SigningOptions,
): Promise<SignedParts> {
  const components: string[] = [...REQUIRED_COMPONENTS];
  if (request.body !== undefined) {
    request.headers.set("content-digest", await contentDigest(request.body));
    components.push("content-digest");
  }
  if (request.headers.has("idempotency-key")) components.push("idempotency-key");
  const params: SignatureParams = {
    created: options.created ?? Math.floor(Date.now() / 1000),
    keyid: options.keyid,
    alg: "ed25519",
    nonce: options.nonce ??
      crypto.getRandomValues(new Uint8Array(16)).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
  };
  const paramsText = serializeSignatureParams(components, params);
  const base = signatureBase(request, components, paramsText);
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", options.privateKey, new TextEncoder().encode(base)),
  );
  const signatureInput = `sig1=${paramsText}`;
  const signatureHeader = `sig1=:${signature.toBase64()}:`;
  request.headers.set("signature-input", signatureInput);
  request.headers.set("signature", signatureHeader);
  return { signatureBase: base, signatureInput, signature: signatureHeader };
}

/** An envelope as the backlog returns it. */
export interface ReceivedEnvelope {
  readonly seq: number;
  readonly from: string;
  readonly to: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly body: Uint8Array;
}

/** The answer to a send. */
export interface SendResult {
  readonly seq: number;
  /** True when the relay stored it (store-and-forward), false in stateless mode. */
  readonly stored: boolean;
  /** True when this was a retry of an earlier send with the same idempotency key. */
  readonly duplicate: boolean;
  /** Devices that received it live (connected sockets and long polls). */
  readonly recipients: number;
}

/** A page of backlog. */
export interface BacklogResult {
  readonly envelopes: ReceivedEnvelope[];
  readonly acked: number;
  readonly latestSeq: number;
  readonly more: boolean;
}

/** A vault's usage. */
export interface UsageResult {
  readonly mode: string;
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly envelopes: number;
  readonly devices: number;
  readonly latestSeq: number;
}

/** How to reach a relay as one device of one vault. */
export interface ClientOptions {
  /** The relay's base URL, e.g. `https://relay.example.org`. */
  readonly url: string;
  readonly keys: CryptoKeyPair;
  /** This device's label: 1 to 64 of `A-Z a-z 0-9 _ -`. */
  readonly device: string;
  /** Seconds since the epoch for `created`; for clients with a known clock offset. */
  readonly now?: () => number;
  /** The fetch to use, e.g. one with a custom CA (`Deno.createHttpClient`); defaults to `fetch`. */
  readonly fetch?: typeof fetch;
}

/** A signed protocol-3 client for one device of one vault. */
export class RelayClient {
  private constructor(
    private readonly options: ClientOptions,
    /** The vault id derived from the key pair. */
    readonly vaultId: string,
  ) {}

  /** Creates a client; derives the vault id from the key pair. */
  static async create(options: ClientOptions): Promise<RelayClient> {
    return new RelayClient(options, await vaultIdOfKeys(options.keys));
  }

  /** The device label this client signs as. */
  get device(): string {
    return this.options.device;
  }

  /** Base URL of the relay. */
  get url(): string {
    return this.options.url;
  }

  /** Opens this device's live socket. See {@linkcode connectSocket}. */
  connect(options: SocketHandlers & { after?: number } = {}): Promise<RelaySocket> {
    return connectSocket(this, this.options.keys, options);
  }

  /**
   * Sends a signed request to `path` (relative to the vault, e.g. `/envelopes`) and returns the
   * raw response. Use the typed methods unless testing the relay itself.
   */
  async request(
    method: string,
    path: string,
    init: {
      body?: Uint8Array<ArrayBuffer>;
      query?: Record<string, string | number | undefined>;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Response> {
    const url = new URL(`/v3/vaults/${this.vaultId}${path}`, this.options.url);
    for (const [name, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers = new Headers({
      "x-vaultmesh-protocol": "3",
      "x-vaultmesh-device": this.options.device,
      ...init.headers,
    });
    if (init.body !== undefined && !headers.has("content-type")) {
      headers.set("content-type", "application/octet-stream");
    }
    const created = this.options.now?.();
    await signRequest(
      { method, url, headers, body: init.body },
      {
        privateKey: this.options.keys.privateKey,
        keyid: this.vaultId,
        ...(created === undefined ? {} : { created }),
      },
    );
    return await (this.options.fetch ?? fetch)(url, { method, headers, body: init.body ?? null });
  }

  async #json(response: Response): Promise<Record<string, unknown>> {
    const body = await response.json() as Record<string, unknown>;
    if (!response.ok) {
      throw new RelayError(
        response.status,
        String(body.error),
        String(body.message),
        body,
      );
    }
    return body;
  }

  /**
   * Sends an envelope to every other device of the vault, or to `to` only. With an
   * `idempotencyKey`, a retry returns the original seq instead of storing it twice.
   *
   * @throws {RelayError} e.g. 507 `buffer_full` or 413 `too_large`.
   */
  async send(
    body: Uint8Array<ArrayBuffer>,
    options: { to?: string; idempotencyKey?: string } = {},
  ): Promise<SendResult> {
    const headers: Record<string, string> = options.idempotencyKey === undefined
      ? {}
      : { "idempotency-key": options.idempotencyKey };
    const result = await this.#json(
      await this.request("POST", "/envelopes", { body, query: { to: options.to }, headers }),
    );
    return {
      seq: result.seq as number,
      stored: result.stored !== false,
      duplicate: result.duplicate === true,
      recipients: (result.recipients as number | undefined) ?? 0,
    };
  }

  /**
   * Envelopes for this device after `after` (default: its acknowledged cursor). With `wait`
   * (seconds), the relay holds the request until something arrives.
   */
  async backlog(
    options: { after?: number; limit?: number; wait?: number } = {},
  ): Promise<BacklogResult> {
    const result = await this.#json(
      await this.request("GET", "/envelopes", { query: options }),
    );
    const envelopes = (result.envelopes as Record<string, unknown>[]).map((raw) => ({
      seq: raw.seq as number,
      from: raw.from as string,
      to: raw.to as string | null,
      createdAt: raw.created_at as number,
      expiresAt: raw.expires_at as number,
      body: Uint8Array.fromBase64(raw.body as string),
    }));
    return {
      envelopes,
      acked: result.acked as number,
      latestSeq: result.latest_seq as number,
      more: result.more as boolean,
    };
  }

  /** Acknowledges everything up to `seq`. Returns the new cursor. */
  async ack(seq: number): Promise<{ acked: number; deleted: number }> {
    const body = new TextEncoder().encode(JSON.stringify({ seq }));
    const result = await this.#json(
      await this.request("POST", "/ack", { body, headers: { "content-type": "application/json" } }),
    );
    return { acked: result.acked as number, deleted: result.deleted as number };
  }

  /** The vault's usage against its quota. */
  async usage(): Promise<UsageResult> {
    const result = await this.#json(await this.request("GET", ""));
    return {
      mode: result.mode as string,
      usedBytes: result.used_bytes as number,
      limitBytes: result.limit_bytes as number,
      envelopes: result.envelopes as number,
      devices: result.devices as number,
      latestSeq: result.latest_seq as number,
    };
  }

  /** Deletes everything the relay holds for the vault. Returns how many envelopes went. */
  async purge(): Promise<number> {
    const result = await this.#json(await this.request("DELETE", ""));
    return result.envelopes as number;
  }
}

/** A receipt for an envelope sent on a socket. */
export interface SocketReceipt {
  readonly seq: number;
  readonly stored: boolean;
  readonly duplicate: boolean;
  readonly recipients: number;
}

/** What the relay said once the socket was authenticated. */
export interface SocketReady {
  readonly mode: string;
  readonly acked: number;
  readonly latestSeq: number;
  /** Other devices of the vault with an open socket. */
  readonly connected: string[];
  /** Devices of the vault with a published presence blob. */
  readonly presence: string[];
}

/** Callbacks of a socket. */
export interface SocketHandlers {
  /** An envelope from another device, in seq order. */
  readonly onEnvelope?: (envelope: ReceivedEnvelope) => void;
  /** A join or leave event: `{type: "join" | "leave", device}`. */
  readonly onPresence?: (event: { type: "join" | "leave"; device: string }) => void;
}

type Pending = {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
};

function relayErrorOf(message: Record<string, unknown>): RelayError {
  return new RelayError(0, String(message.error), String(message.message), message);
}

/** A device's live socket: envelopes pushed as they arrive, sends with receipts, acks. */
export class RelaySocket {
  /** Sends and control messages waiting for their reply, by id. */
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Resolves with the close code and reason when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(
    private readonly socket: WebSocket,
    /** What the relay reported on authentication. */
    readonly ready: SocketReady,
    closed: Promise<{ code: number; reason: string }>,
  ) {
    this.closed = closed;
  }

  /** Handles a text frame after authentication. */
  handleControl(message: Record<string, unknown>): void {
    // Errors without an id (a frame the relay could not read) belong to no request.
    if (typeof message.id !== "number") return;
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    if (message.type === "error") pending?.reject(relayErrorOf(message));
    else pending?.resolve(message);
  }

  /** Fails every pending request when the socket closes. */
  failPending(reason: string): void {
    const error = new RelayError(0, "closed", reason, {});
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #expectReply(): { id: number; reply: Promise<Record<string, unknown>> } {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, { resolve, reject });
    return { id, reply: promise };
  }

  /** Sends an envelope (binary frame) and resolves with the relay's receipt. */
  send(
    body: Uint8Array,
    options: { to?: string; idempotencyKey?: string } = {},
  ): Promise<SocketReceipt> {
    const { id, reply } = this.#expectReply();
    this.socket.send(encodeSendFrame({
      id,
      to: options.to ?? null,
      idempotencyKey: options.idempotencyKey ?? null,
      body,
    }));
    return reply.then((message) => ({
      seq: message.seq as number,
      stored: message.type === "stored",
      duplicate: message.duplicate === true,
      recipients: (message.recipients as number | undefined) ?? 0,
    }));
  }

  #control(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { id, reply } = this.#expectReply();
    this.socket.send(JSON.stringify({ ...message, id }));
    return reply;
  }

  /** Acknowledges everything up to `seq`. */
  async ack(seq: number): Promise<{ acked: number; deleted: number }> {
    const reply = await this.#control({ type: "ack", seq });
    return { acked: reply.acked as number, deleted: reply.deleted as number };
  }

  /** Publishes this device's presence blob for `ttl` seconds. */
  async publishPresence(blob: Uint8Array, ttl = 300): Promise<number> {
    const reply = await this.#control({ type: "presence", blob: blob.toBase64(), ttl });
    return reply.expires_at as number;
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "bye");
    await this.closed;
  }
}

/**
 * Opens an authenticated socket for this device: answers the relay's challenge, then receives
 * the backlog after `after` (default: the acknowledged cursor) and live envelopes.
 */
export async function connectSocket(
  client: RelayClient,
  keys: CryptoKeyPair,
  options: SocketHandlers & { after?: number } = {},
): Promise<RelaySocket> {
  const base = new URL(client.url);
  const url = new URL(`/v3/vaults/${client.vaultId}/socket`, base);
  url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("device", client.device);
  const ws = new WebSocket(url, [SOCKET_SUBPROTOCOL]);
  ws.binaryType = "arraybuffer";
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
  });
  const opened = Promise.withResolvers<RelaySocket>();
  let socket: RelaySocket | undefined;
  ws.onmessage = async (event) => {
    if (event.data instanceof ArrayBuffer) {
      const frame = decodeEnvelopeFrame(new Uint8Array(event.data));
      options.onEnvelope?.({ ...frame, expiresAt: 0 });
      return;
    }
    const message = JSON.parse(String(event.data)) as Record<string, unknown>;
    if (message.type === "challenge") {
      const signed = socketAuthMessage({
        authority: authorityOf(base.host),
        challenge: String(message.challenge),
        vaultId: client.vaultId,
        deviceId: client.device,
      });
      const signature = new Uint8Array(
        await crypto.subtle.sign("Ed25519", keys.privateKey, signed),
      );
      ws.send(JSON.stringify({
        type: "auth",
        signature: signature.toBase64(),
        ...(options.after === undefined ? {} : { after: options.after }),
      }));
    } else if (message.type === "ready") {
      socket = new RelaySocket(ws, {
        mode: String(message.mode),
        acked: message.acked as number,
        latestSeq: message.latest_seq as number,
        connected: message.connected as string[],
        presence: message.presence as string[],
      }, closed);
      opened.resolve(socket);
    } else if (message.type === "join" || message.type === "leave") {
      options.onPresence?.(message as { type: "join" | "leave"; device: string });
    } else if (socket) {
      socket.handleControl(message);
    } else if (message.type === "error") {
      opened.reject(relayErrorOf(message));
    }
  };
  closed.then(({ code, reason }) => {
    socket?.failPending(`The socket closed (${code} ${reason})`);
    opened.reject(new RelayError(0, "closed", `The socket closed (${code} ${reason})`, { code }));
  });
  return await opened.promise;
}
