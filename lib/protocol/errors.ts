/**
 * The one error of the protocol: a stable code, a sentence for people and extra fields. Every
 * layer throws it; each transport renders it once (`http/errors.ts` as a JSON response,
 * `live/replies.ts` as a socket error message), so a rule refused over HTTP and over a socket
 * gives the same code and fields.
 *
 * @module
 */

/**
 * Every error code and its HTTP status. Codes with status 0 only occur on sockets. Documented in
 * docs/PROTOCOL.md section 3; a test checks the two agree.
 */
export const ERROR_STATUS = {
  bad_vault_id: 400,
  bad_device: 400,
  bad_recipient: 400,
  bad_idempotency_key: 400,
  bad_parameter: 400,
  bad_json: 400,
  bad_request: 400,
  body_incomplete: 400,
  not_websocket: 400,
  signature_missing: 401,
  signature_malformed: 401,
  signature_algorithm: 401,
  signature_incomplete: 401,
  signature_expired: 401,
  signature_future: 401,
  signature_invalid: 401,
  signature_replayed: 401,
  digest_missing: 401,
  digest_mismatch: 401,
  wrong_vault: 403,
  not_found: 404,
  method_not_allowed: 405,
  body_timeout: 408,
  ack_beyond_latest: 409,
  too_large: 413,
  wrong_authority: 421,
  protocol_mismatch: 426,
  rate_limited: 429,
  too_many_in_flight: 429,
  replay_cache_full: 429,
  headers_too_large: 431,
  internal: 500,
  busy: 503,
  presence_full: 503,
  storage_unavailable: 503,
  buffer_full: 507,
  storage_full: 507,
  auth_failed: 0,
  bad_frame: 0,
  bad_message: 0,
  too_many_sockets: 0,
} as const;

/** A protocol error code, e.g. `buffer_full`. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Options of a {@linkcode ProtocolError} beyond its code and message. */
export interface ProtocolErrorOptions {
  /** Extra JSON fields, e.g. `used` and `limit` for a full buffer. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Seconds to wait before retrying; HTTP sends it as `Retry-After`. */
  readonly retryAfter?: number;
  /** Extra HTTP response headers, e.g. `Allow` (ignored on sockets). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A refusal with a stable machine code and a sentence for people. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  /** Extra JSON fields. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Seconds to wait before retrying, when the refusal is temporary. */
  readonly retryAfter: number | undefined;
  /** Extra HTTP response headers. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    /** Stable snake_case code clients switch on. */
    readonly code: ErrorCode,
    message: string,
    options: ProtocolErrorOptions = {},
  ) {
    super(message);
    this.details = options.details ?? {};
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
  }

  /** The HTTP status of the code (0 for socket-only codes). */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
