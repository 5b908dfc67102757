/**
 * The signed HTTP client of one device of one vault: send, backlog (with long poll), ack, usage,
 * purge, and the device's socket.
 *
 * @module
 */
import type { ReceivedEnvelope } from "./envelope.ts";
import { RelayError } from "./errors.ts";
import { vaultIdOfKeys } from "./keys.ts";
import { signRequest } from "./sign.ts";
import { connectSocket, type RelaySocket, type SocketHandlers } from "./socket.ts";
import {
  type BacklogFormat,
  backlogMediaType,
  binaryPageOf,
  readBacklogPageHeaders,
} from "../protocol/backlog_page.ts";

/** The answer to a send. */
export interface SendResult {
  /** The seq the relay assigned. */
  readonly seq: number;
  /** True when the relay stored it (store-and-forward), false in stateless mode. */
  readonly stored: boolean;
  /** True when this was a retry of an earlier send with the same idempotency key. */
  readonly duplicate: boolean;
  /** Devices that received it live (connected sockets and long polls). */
  readonly recipients: number;
}

/**
 * How a backlog page travels: `packed` (the default: bodies as raw bytes and a few bytes of
 * fields each, no `expiresAt`), `frames` (the socket's binary envelope frames, no `expiresAt`), or
 * `json` (bodies in base64, with `expiresAt`).
 */
export type { BacklogFormat };

/** A page of backlog. */
export interface BacklogResult {
  /** Envelopes for this device, in seq order. `expiresAt` is 0 in a `frames` page. */
  readonly envelopes: ReceivedEnvelope[];
  /** This device's acknowledged cursor. */
  readonly acked: number;
  /** The vault's latest seq. */
  readonly latestSeq: number;
  /** True when more envelopes follow this page. */
  readonly more: boolean;
}

/** A vault's usage. */
export interface UsageResult {
  /** The relay's mode. */
  readonly mode: string;
  /** Bytes the vault holds against its quota. */
  readonly usedBytes: number;
  /** The vault's quota in bytes. */
  readonly limitBytes: number;
  /** Envelopes held. */
  readonly envelopes: number;
  /** Devices seen within the TTL. */
  readonly devices: number;
  /** The vault's latest seq. */
  readonly latestSeq: number;
}

/** How to reach a relay as one device of one vault. */
export interface ClientOptions {
  /** The relay's base URL, e.g. `https://relay.example.org`. */
  readonly url: string;
  /** The vault's Ed25519 key pair. */
  readonly keys: CryptoKeyPair;
  /** This device's label: 1 to 64 of `A-Z a-z 0-9 _ -`. */
  readonly device: string;
  /** Seconds since the epoch for `created`; for clients with a known clock offset. */
  readonly now?: () => number;
  /** The fetch to use, e.g. one with a custom CA (`Deno.createHttpClient`); defaults to `fetch`. */
  readonly fetch?: typeof fetch;
}

/**
 * A signed protocol-3 client for one device of one vault.
 *
 * @example
 * ```ts
 * const keys = await generateVaultKeys();
 * const laptop = await RelayClient.create({ url: "https://relay.example.org", keys, device: "laptop" });
 * const { seq } = await laptop.send(new TextEncoder().encode("ciphertext"));
 * ```
 */
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
      throw new RelayError(response.status, String(body.error), String(body.message), body);
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
   * (seconds), the relay holds the request until something arrives. Pages come packed unless
   * `format` asks for `frames` or `json` (only JSON carries each envelope's `expiresAt`: 0
   * otherwise); whatever the relay answers (a relay without packed pages answers JSON) is read as
   * what its `Content-Type` says.
   *
   * @throws {RelayError} for an error answer of the relay.
   * @throws {FrameError} when a binary page or its headers cannot be decoded.
   */
  async backlog(
    options: { after?: number; limit?: number; wait?: number; format?: BacklogFormat } = {},
  ): Promise<BacklogResult> {
    const { format = "packed", ...query } = options;
    const accept = backlogMediaType(format);
    const response = await this.request("GET", "/envelopes", { query, headers: { accept } });
    const binary = binaryPageOf(response.headers.get("content-type"));
    if (response.ok && binary) {
      const info = readBacklogPageHeaders(response.headers);
      const frames = binary.decode(new Uint8Array(await response.arrayBuffer()));
      return {
        envelopes: frames.map((frame) => ({ ...frame, expiresAt: 0 })),
        acked: info.acked,
        latestSeq: info.latestSeq,
        more: info.more,
      };
    }
    const result = await this.#json(response);
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
