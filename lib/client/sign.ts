/**
 * Request signing with RFC 9421 HTTP Message Signatures (`alg="ed25519"`) and an RFC 9530
 * `Content-Digest`, covering the components protocol 3 requires.
 *
 * @module
 */
import {
  contentDigest,
  REQUIRED_COMPONENTS,
  serializeSignatureParams,
  signatureBase,
  type SignatureParams,
} from "../protocol/signature_base.ts";

/** A request to sign. */
export interface UnsignedRequest {
  /** HTTP method, e.g. `POST`. */
  readonly method: string;
  /** The full URL, authority and query included. */
  readonly url: URL;
  /** Headers; {@linkcode signRequest} adds its own to them. */
  readonly headers: Headers;
  /** The body, if any; it gets a `Content-Digest`. */
  readonly body?: Uint8Array<ArrayBuffer> | undefined;
}

/** What {@linkcode signRequest} needs besides the request. */
export interface SigningOptions {
  /** The vault's Ed25519 private key. */
  readonly privateKey: CryptoKey;
  /** The vault id. */
  readonly keyid: string;
  /** Seconds since the epoch; defaults to now. */
  readonly created?: number;
  /** Defaults to 16 random bytes, base64url. */
  readonly nonce?: string;
}

/** The signature base and headers added by {@linkcode signRequest}. */
export interface SignedParts {
  /** The exact text that was signed. */
  readonly signatureBase: string;
  /** The `Signature-Input` header value. */
  readonly signatureInput: string;
  /** The `Signature` header value. */
  readonly signature: string;
}

function randomNonce(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * Adds `Content-Digest` (when there is a body), `Signature-Input` and `Signature` to
 * `request.headers`, covering the protocol's required components (and `idempotency-key` when the
 * request carries one).
 *
 * @example
 * ```ts
 * const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "laptop" });
 * const url = new URL(`https://relay.example.org/v3/vaults/${vaultId}/envelopes`);
 * await signRequest({ method: "GET", url, headers }, { privateKey: keys.privateKey, keyid: vaultId });
 * await fetch(url, { headers });
 * ```
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
    nonce: options.nonce ?? randomNonce(),
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
