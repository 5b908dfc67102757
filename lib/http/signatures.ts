/**
 * Request authentication: RFC 9421 HTTP Message Signatures with Ed25519, where the key id is the
 * vault id (the vault's public key), plus a bounded replay cache for nonces.
 *
 * @module
 */
import { type InnerList, parseDictionary, serializeInnerList } from "structured-headers";
import type { Clock } from "../clock.ts";
import { HttpError } from "./errors.ts";
import { isDeviceId, vaultPublicKey } from "../protocol/identity.ts";
import {
  ComponentError,
  contentDigest,
  REQUIRED_COMPONENTS,
  sha256FromContentDigest,
  signatureBase,
  type SignedMessage,
} from "../protocol/signature_base.ts";

/** Seconds a signature's `created` may differ from the relay's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 60;

/** The header naming the sending device. */
export const DEVICE_HEADER = "x-vaultmesh-device";

/** Who a verified request comes from. */
export interface Caller {
  readonly vaultId: string;
  readonly deviceId: string;
}

function unauthorized(code: string, message: string): HttpError {
  return new HttpError(401, code, message);
}

/** How long a nonce must be remembered: a signature is accepted until created + window, and
 * created >= now - window, so twice the window (plus a second of rounding). */
const NONCE_HORIZON_MS = 2 * SIGNATURE_WINDOW_SECONDS * 1000 + 1000;

/** Capacities of a {@linkcode NonceCache}. */
export interface NonceCapacity {
  /** Nonces remembered for one vault: its sustained rate is this / 121 s. */
  readonly perVault: number;
  /** Nonces remembered in all. */
  readonly total: number;
}

function cacheFull(scope: string): HttpError {
  return new HttpError(
    429,
    "replay_cache_full",
    `The relay is verifying too many signed requests ${scope} right now; retry shortly`,
    { "retry-after": "5" },
  );
}

/**
 * Remembers nonces of accepted signatures until they can no longer be replayed. Bounded per
 * vault, so one vault's traffic cannot crowd out another's, and in total; when full, requests
 * are turned away (429) rather than forgetting a live nonce, which would allow a replay.
 */
export class NonceCache {
  readonly #byVault = new Map<string, Set<string>>();
  /** Every remembered nonce in insertion order, which is also expiry order (fixed horizon). */
  #queue: { readonly expiry: number; readonly vaultId: string; readonly nonce: string }[] = [];
  #head = 0;

  constructor(
    private readonly clock: Clock,
    readonly capacity: NonceCapacity = { perVault: 20_000, total: 500_000 },
  ) {}

  /** Records `nonce` for `vaultId`; false if it was already seen. */
  remember(vaultId: string, nonce: string): boolean {
    const now = this.clock.now();
    this.#forgetExpired(now);
    let nonces = this.#byVault.get(vaultId);
    if (nonces?.has(nonce)) return false;
    if ((nonces?.size ?? 0) >= this.capacity.perVault) throw cacheFull("for this vault");
    if (this.size >= this.capacity.total) throw cacheFull("");
    if (!nonces) {
      nonces = new Set();
      this.#byVault.set(vaultId, nonces);
    }
    nonces.add(nonce);
    this.#queue.push({ expiry: now + NONCE_HORIZON_MS, vaultId, nonce });
    return true;
  }

  /** How many nonces are remembered. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  #forgetExpired(now: number): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.expiry <= now) {
      const { vaultId, nonce } = this.#queue[this.#head++]!;
      const nonces = this.#byVault.get(vaultId);
      nonces?.delete(nonce);
      if (nonces?.size === 0) this.#byVault.delete(vaultId);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

interface ParsedSignature {
  readonly components: string[];
  readonly paramsText: string;
  readonly params: Map<string, unknown>;
  readonly signature: Uint8Array<ArrayBuffer>;
}

function parseSignatureHeaders(input: string, signature: string): ParsedSignature {
  let inputs, signatures;
  try {
    inputs = parseDictionary(input);
    signatures = parseDictionary(signature);
  } catch (error) {
    throw unauthorized(
      "signature_malformed",
      `Signature-Input or Signature is not a structured dictionary: ${(error as Error).message}`,
    );
  }
  if (inputs.size !== 1) {
    throw unauthorized("signature_malformed", "Send exactly one signature in Signature-Input");
  }
  const [label, member] = [...inputs][0]!;
  const value = signatures.get(label)?.[0];
  if (!Array.isArray(member?.[0]) || !(value instanceof ArrayBuffer)) {
    throw unauthorized(
      "signature_malformed",
      `Signature label ${JSON.stringify(label)} needs an inner list in Signature-Input and ` +
        "a byte sequence in Signature",
    );
  }
  const list = member as InnerList;
  const components = list[0].map(([name, componentParams]) => {
    if (typeof name !== "string" || componentParams.size > 0) {
      throw unauthorized(
        "signature_malformed",
        "Covered components must be plain strings without parameters",
      );
    }
    return name;
  });
  return {
    components,
    paramsText: serializeInnerList(list),
    params: list[1],
    signature: new Uint8Array(value),
  };
}

function requireParams(params: Map<string, unknown>) {
  const created = params.get("created");
  const keyid = params.get("keyid");
  const alg = params.get("alg");
  const nonce = params.get("nonce");
  const expires = params.get("expires");
  if (!Number.isInteger(created) || typeof keyid !== "string" || typeof nonce !== "string") {
    throw unauthorized(
      "signature_malformed",
      "Signature-Input needs created (integer), keyid (string) and nonce (string) parameters",
    );
  }
  if (alg !== "ed25519") {
    throw unauthorized(
      "signature_algorithm",
      `Unsupported signature algorithm ${JSON.stringify(alg ?? "none")}: use alg="ed25519"`,
    );
  }
  if (nonce.length < 16 || nonce.length > 128) {
    throw unauthorized("signature_malformed", "The nonce must be 16 to 128 characters");
  }
  if (expires !== undefined && !Number.isInteger(expires)) {
    throw unauthorized("signature_malformed", "The expires parameter must be an integer");
  }
  return {
    created: created as number,
    keyid,
    nonce,
    expires: expires as number | undefined,
  };
}

function checkTime(created: number, expires: number | undefined, now: number): void {
  const nowSeconds = Math.floor(now / 1000);
  if (created < nowSeconds - SIGNATURE_WINDOW_SECONDS || (expires ?? Infinity) < nowSeconds) {
    throw unauthorized(
      "signature_expired",
      `The signature was created at ${created}, more than ${SIGNATURE_WINDOW_SECONDS} s before ` +
        `the relay's time ${nowSeconds}; check the device clock`,
    );
  }
  if (created > nowSeconds + SIGNATURE_WINDOW_SECONDS) {
    throw unauthorized(
      "signature_future",
      `The signature was created at ${created}, more than ${SIGNATURE_WINDOW_SECONDS} s after ` +
        `the relay's time ${nowSeconds}; check the device clock`,
    );
  }
}

function requiredComponents(message: SignedMessage, hasBody: boolean): string[] {
  const required: string[] = [...REQUIRED_COMPONENTS];
  if (hasBody) required.push("content-digest");
  if (message.headers.has("idempotency-key")) required.push("idempotency-key");
  return required;
}

/** Bounded cache of imported vault keys: importing costs more than verifying. */
class KeyCache {
  readonly #keys = new Map<string, Promise<CryptoKey>>();

  constructor(readonly capacity = 10_000) {}

  get(vaultId: string, raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
    let key = this.#keys.get(vaultId);
    if (key) {
      this.#keys.delete(vaultId);
    } else {
      key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      if (this.#keys.size >= this.capacity) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(vaultId, key);
    return key;
  }
}

/** Parses and checks a vault id from a URL path. */
export function requireVaultKey(vaultId: string): Uint8Array<ArrayBuffer> {
  const key = vaultPublicKey(vaultId);
  if (!key) {
    throw new HttpError(
      400,
      "bad_vault_id",
      "A vault id is the unpadded base64url encoding of a 32-byte Ed25519 public key (43 characters)",
    );
  }
  return key as Uint8Array<ArrayBuffer>;
}

/** Verifies signed requests against the vault named in their path. */
export class Authenticator {
  readonly #keys = new KeyCache();

  constructor(private readonly clock: Clock, readonly nonces: NonceCache) {}

  /**
   * Verifies the signature of a request for `vaultId`. `hasBody` says whether the request
   * carries a body, which must then be covered by `content-digest` (checked by
   * {@linkcode Authenticator.verifyBody}).
   *
   * @throws {HttpError} 400, 401 or 403 with a precise code.
   */
  async verify(message: SignedMessage, vaultId: string, hasBody: boolean): Promise<Caller> {
    const rawKey = requireVaultKey(vaultId);
    const input = message.headers.get("signature-input");
    const signatureHeader = message.headers.get("signature");
    if (input === null || signatureHeader === null) {
      throw unauthorized(
        "signature_missing",
        "Sign the request: RFC 9421 Signature-Input and Signature headers are required",
      );
    }
    const parsed = parseSignatureHeaders(input, signatureHeader);
    const params = requireParams(parsed.params);
    if (params.keyid !== vaultId) {
      throw new HttpError(
        403,
        "wrong_vault",
        "The signature's keyid names a different vault than the request path",
      );
    }
    const missing = requiredComponents(message, hasBody)
      .filter((name) => !parsed.components.includes(name));
    if (missing.length > 0) {
      throw unauthorized(
        "signature_incomplete",
        `The signature must also cover ${missing.map((name) => `"${name}"`).join(", ")}`,
      );
    }
    checkTime(params.created, params.expires, this.clock.now());
    const deviceId = message.headers.get(DEVICE_HEADER) ?? "";
    if (!isDeviceId(deviceId)) {
      throw new HttpError(
        400,
        "bad_device",
        "X-VaultMesh-Device must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
      );
    }
    let base: string;
    try {
      base = signatureBase(message, parsed.components, parsed.paramsText);
    } catch (error) {
      if (error instanceof ComponentError) throw unauthorized("signature_malformed", error.message);
      throw error;
    }
    const key = await this.#keys.get(vaultId, rawKey);
    const valid = await crypto.subtle.verify(
      "Ed25519",
      key,
      parsed.signature,
      new TextEncoder().encode(base),
    );
    if (!valid) {
      throw unauthorized(
        "signature_invalid",
        "The signature does not verify with this vault's key for this request",
      );
    }
    if (!this.nonces.remember(vaultId, params.nonce)) {
      throw unauthorized("signature_replayed", "This signature's nonce was already used");
    }
    return { vaultId, deviceId };
  }

  /**
   * Checks that `body` matches the signed `Content-Digest` header.
   *
   * @throws {HttpError} 401 `digest_mismatch` or `digest_missing`.
   */
  async verifyBody(headers: Headers, body: Uint8Array<ArrayBuffer>): Promise<void> {
    const claimed = sha256FromContentDigest(headers.get("content-digest") ?? "");
    if (!claimed) {
      throw unauthorized(
        "digest_missing",
        "A request with a body needs a Content-Digest header with a sha-256 member",
      );
    }
    const actual = sha256FromContentDigest(await contentDigest(body))!;
    if (actual.length !== claimed.length || actual.some((byte, i) => byte !== claimed[i])) {
      throw unauthorized("digest_mismatch", "The body does not match its Content-Digest");
    }
  }
}
