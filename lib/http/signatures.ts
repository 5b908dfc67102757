/**
 * Request authentication: RFC 9421 HTTP Message Signatures with Ed25519, where the key id is the
 * vault id (the vault's public key). Nonces go to the bounded replay cache in
 * `guard/nonce_cache.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { parseSignatureFields } from "./signature_fields.ts";
import { validateAuthority, validateDevice, validateVaultId } from "../protocol/validate.ts";
import type { NonceCache } from "../guard/nonce_cache.ts";
import type { VaultKeys } from "../guard/vault_keys.ts";
import {
  ComponentError,
  componentValue,
  REQUIRED_COMPONENTS,
  sha256FromContentDigest,
  SIGNATURE_WINDOW_SECONDS,
  signatureBase,
  type SignedMessage,
} from "../protocol/signature_base.ts";

/** The header naming the sending device. */
export const DEVICE_HEADER = "x-vaultmesh-device";

/** Who a verified request comes from. */
export interface Caller {
  readonly vaultId: string;
  readonly deviceId: string;
  /** The client's address key (an IPv4 address or an IPv6 /64), for per-address shares. */
  readonly address: string;
}

/** What a request is verified for. */
export interface VerifyOptions {
  /** The vault named in the request's path. */
  readonly vaultId: string;
  /** Whether the request carries a body, which `content-digest` must then cover. */
  readonly hasBody: boolean;
  /** The client's address key. */
  readonly address: string;
}

function unauthorized(
  code:
    | "signature_missing"
    | "signature_malformed"
    | "signature_algorithm"
    | "signature_incomplete"
    | "signature_expired"
    | "signature_future"
    | "signature_invalid"
    | "signature_replayed"
    | "digest_missing"
    | "digest_mismatch",
  message: string,
): ProtocolError {
  return new ProtocolError(code, message);
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

/** Verifies signed requests against the vault named in their path. */
export class Authenticator {
  constructor(
    private readonly clock: Clock,
    readonly nonces: NonceCache,
    private readonly keys: VaultKeys,
    /** The relay's public `@authority` (`--public-url`); `null` accepts any. */
    private readonly authority: string | null = null,
  ) {}

  /**
   * Verifies the signature of a request for `vaultId`. `hasBody` says whether the request
   * carries a body, which must then be covered by `content-digest` (checked by
   * {@linkcode Authenticator.verifyBody}).
   *
   * @throws {ProtocolError} `bad_vault_id`, `bad_device`, `wrong_vault` or a `signature_*` code.
   */
  verify(message: SignedMessage, options: VerifyOptions): Caller {
    const { vaultId, hasBody, address } = options;
    const rawKey = validateVaultId(vaultId);
    const input = message.headers.get("signature-input");
    const signatureHeader = message.headers.get("signature");
    if (input === null || signatureHeader === null) {
      throw unauthorized(
        "signature_missing",
        "Sign the request: RFC 9421 Signature-Input and Signature headers are required",
      );
    }
    const parsed = parseSignatureFields(input, signatureHeader);
    const params = requireParams(parsed.params);
    if (params.keyid !== vaultId) {
      throw new ProtocolError(
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
    validateAuthority(componentValue(message, "@authority"), this.authority);
    const deviceId = validateDevice(message.headers.get(DEVICE_HEADER), "X-VaultMesh-Device");
    let base: string;
    try {
      base = signatureBase(message, parsed.components, parsed.paramsText);
    } catch (error) {
      if (error instanceof ComponentError) throw unauthorized("signature_malformed", error.message);
      throw error;
    }
    const valid = this.keys.verify(vaultId, rawKey, {
      signature: parsed.signature,
      data: new TextEncoder().encode(base),
    });
    if (!valid) {
      throw unauthorized(
        "signature_invalid",
        "The signature does not verify with this vault's key for this request",
      );
    }
    if (!this.nonces.remember({ vaultId, nonce: params.nonce, address })) {
      throw unauthorized("signature_replayed", "This signature's nonce was already used");
    }
    return { vaultId, deviceId, address };
  }

  /**
   * Checks that `body` matches the signed `Content-Digest` header.
   *
   * @throws {ProtocolError} `digest_mismatch` or `digest_missing`.
   */
  verifyBody(headers: Headers, body: Uint8Array<ArrayBuffer>): void {
    const claimed = sha256FromContentDigest(headers.get("content-digest") ?? "");
    if (!claimed) {
      throw unauthorized(
        "digest_missing",
        "A request with a body needs a Content-Digest header with a sha-256 member",
      );
    }
    // node:crypto hashes on this thread: a 1 KiB body takes microseconds, less than the hop to
    // WebCrypto's worker threads and back.
    const actual = createHash("sha256").update(body).digest();
    if (actual.length !== claimed.length || actual.some((byte, i) => byte !== claimed[i])) {
      throw unauthorized("digest_mismatch", "The body does not match its Content-Digest");
    }
  }
}
