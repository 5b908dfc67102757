/**
 * RFC 9421 HTTP Message Signatures: the signature base both sides compute, and RFC 9530
 * `Content-Digest`. Shared by the relay's verifier (`lib/http/signatures.ts`) and the reference client
 * (`lib/client/`) so they cannot drift apart.
 *
 * @module
 */
import { type InnerList, parseDictionary, serializeInnerList } from "structured-headers";

/** Seconds a signature's `created` may differ from the relay's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 60;

/** Components every signed request must cover; plus `content-digest` with a body and
 * `idempotency-key` when sent. */
export const REQUIRED_COMPONENTS = [
  "@method",
  "@authority",
  "@path",
  "@query",
  "x-vaultmesh-protocol",
  "x-vaultmesh-device",
] as const;

/** The parts of an HTTP request a signature can cover. */
export interface SignedMessage {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
}

/** Parameters of a signature, as carried in `Signature-Input`. */
export interface SignatureParams {
  readonly created: number;
  readonly keyid: string;
  readonly alg: string;
  readonly nonce: string;
  readonly expires?: number;
}

/** A component the message does not have, or one this implementation does not support. */
export class ComponentError extends Error {
  override name = "ComponentError";
}

/** `@authority` per RFC 9421 2.2.3: lowercase host, default ports omitted. */
export function authorityOf(host: string): string {
  return host.toLowerCase().replace(/:(80|443)$/, "");
}

/** The value of one covered component of `message`. */
export function componentValue(message: SignedMessage, name: string): string {
  switch (name) {
    case "@method":
      return message.method.toUpperCase();
    case "@authority":
      return authorityOf(message.headers.get("host") ?? message.url.host);
    case "@path":
      return message.url.pathname || "/";
    case "@query":
      return message.url.search || "?";
    case "@target-uri":
      return message.url.href;
    case "@scheme":
      return message.url.protocol.slice(0, -1);
    case "@request-target":
      return message.url.pathname + message.url.search;
  }
  if (name.startsWith("@") || name !== name.toLowerCase()) {
    throw new ComponentError(`Unsupported component ${JSON.stringify(name)}`);
  }
  const value = message.headers.get(name);
  if (value === null) throw new ComponentError(`Covered header ${JSON.stringify(name)} is missing`);
  return value.trim();
}

/** The serialized inner list of covered components plus parameters (`@signature-params`). */
export function serializeSignatureParams(
  components: readonly string[],
  params: SignatureParams,
): string {
  const paramMap = new Map<string, string | number>([
    ["created", params.created],
    ["keyid", params.keyid],
    ["alg", params.alg],
    ["nonce", params.nonce],
  ]);
  if (params.expires !== undefined) paramMap.set("expires", params.expires);
  const list: InnerList = [components.map((name) => [name, new Map()]), paramMap];
  return serializeInnerList(list);
}

/**
 * The signature base of RFC 9421 section 2.5: one line per covered component, then the
 * `@signature-params` line.
 *
 * @throws {ComponentError} when a covered component is missing or unsupported.
 */
export function signatureBase(
  message: SignedMessage,
  components: readonly string[],
  signatureParams: string,
): string {
  const lines = components.map((name) => `"${name}": ${componentValue(message, name)}`);
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join("\n");
}

/** The RFC 9530 `Content-Digest` header value (sha-256) of `body`. */
export async function contentDigest(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return `sha-256=:${digest.toBase64()}:`;
}

/** The sha-256 member of a `Content-Digest` header, or `undefined`. */
export function sha256FromContentDigest(header: string): Uint8Array | undefined {
  try {
    const member = parseDictionary(header).get("sha-256");
    const value = member?.[0];
    return value instanceof ArrayBuffer ? new Uint8Array(value) : undefined;
  } catch {
    return undefined;
  }
}
