/**
 * The protocol's rules on what a device sends, written once and used by both transports: HTTP
 * handlers and the socket session call the same functions and so refuse the same input with the
 * same {@linkcode ProtocolError}.
 *
 * @module
 */
import { isDeviceId, isIdempotencyKey, vaultPublicKey } from "./identity.ts";
import { ProtocolError } from "./errors.ts";

/** Presence TTL when a device does not give one, in seconds. */
export const DEFAULT_PRESENCE_TTL_SECONDS = 300;

/**
 * The public key of a vault id from a request path.
 *
 * @throws {ProtocolError} `bad_vault_id` when it is not a canonical vault id.
 */
export function validateVaultId(vaultId: string): Uint8Array<ArrayBuffer> {
  const key = vaultPublicKey(vaultId);
  if (!key) {
    throw new ProtocolError(
      "bad_vault_id",
      "A vault id is the unpadded base64url encoding of a 32-byte Ed25519 public key (43 characters)",
    );
  }
  return key as Uint8Array<ArrayBuffer>;
}

/**
 * Checks an envelope's recipient: `null` (every other device) or another device's id.
 *
 * @throws {ProtocolError} `bad_recipient`.
 */
export function validateRecipient(to: string | null, sender: string): string | null {
  if (to !== null && (!isDeviceId(to) || to === sender)) {
    throw new ProtocolError("bad_recipient", "to must be another device id of the vault");
  }
  return to;
}

/**
 * Checks an idempotency key (absent is fine).
 *
 * @throws {ProtocolError} `bad_idempotency_key`.
 */
export function validateIdempotencyKey(key: string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (!isIdempotencyKey(key)) {
    throw new ProtocolError(
      "bad_idempotency_key",
      "An idempotency key is 1 to 128 visible ASCII characters",
    );
  }
  return key;
}

/**
 * Checks a device id given as `where` (a header or parameter name, for the message).
 *
 * @throws {ProtocolError} `bad_device`.
 */
export function validateDevice(device: string | null, where: string): string {
  if (device === null || !isDeviceId(device)) {
    throw new ProtocolError(
      "bad_device",
      `${where} must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -`,
    );
  }
  return device;
}

/**
 * Checks that a body of `size` bytes fits `limit`.
 *
 * @throws {ProtocolError} `too_large` with the limit.
 */
export function validateSize(size: number, limit: number, what = "The body"): void {
  if (size > limit) {
    throw new ProtocolError("too_large", `${what} is larger than ${limit} bytes, the limit`, {
      details: { limit },
    });
  }
}

/** Whether `value` is a seq a device may name: a non-negative safe integer. */
export function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Parses an integer parameter given as a decimal string (HTTP query) or a JSON number (socket).
 * `undefined` or `null` means absent.
 *
 * @throws {ProtocolError} `bad_parameter` naming the parameter and its range.
 */
export function integerParameter(
  name: string,
  raw: unknown,
  range: { min: number; max: number },
): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === "string" ? (/^\d{1,16}$/.test(raw) ? Number(raw) : NaN) : raw;
  if (
    !(Number.isSafeInteger(value) && (value as number) >= range.min) ||
    (value as number) > range.max
  ) {
    throw new ProtocolError(
      "bad_parameter",
      `${name}=${JSON.stringify(raw)} must be an integer from ${range.min} to ${range.max}`,
    );
  }
  return value as number;
}

/**
 * The presence TTL in seconds: the default when absent, else 1 to `maxSeconds`.
 *
 * @throws {ProtocolError} `bad_parameter`.
 */
export function presenceTtl(raw: unknown, maxSeconds: number): number {
  return integerParameter("ttl", raw, { min: 1, max: maxSeconds }) ??
    DEFAULT_PRESENCE_TTL_SECONDS;
}

/**
 * Decodes standard base64 that is canonical (padded, no stray bits), so each value has one
 * spelling.
 *
 * @throws {ProtocolError} `bad_parameter` naming the field.
 */
export function canonicalBase64(text: string, field: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeCanonicalBase64(text);
  if (bytes === undefined) {
    throw new ProtocolError("bad_parameter", `${field} must be canonical padded base64`);
  }
  return bytes;
}

/** The bytes of canonical padded base64 `text`, or `undefined` if it is anything else. */
export function decodeCanonicalBase64(text: unknown): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const bytes = Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
    return bytes.toBase64() === text ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks that a request was made for this relay: its `@authority` (the Host it was sent to, which
 * the signature covers) must be the relay's public authority when one is configured.
 *
 * @throws {ProtocolError} `wrong_authority` naming both.
 */
export function validateAuthority(authority: string, expected: string | null): void {
  if (expected === null || authority === expected) return;
  throw new ProtocolError(
    "wrong_authority",
    `This relay is ${expected}; the request was made for ${JSON.stringify(authority)}`,
    { details: { expected } },
  );
}
