/**
 * The error type handlers throw and the one place that turns it into a JSON response.
 *
 * @module
 */

/** An error with an HTTP status, a stable machine code and a sentence for people. */
export class HttpError extends Error {
  override name = "HttpError";

  constructor(
    /** HTTP status, e.g. 404. */
    readonly status: number,
    /** Stable snake_case code clients switch on, e.g. `not_found`. */
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. `Allow` or `Retry-After`. */
    readonly headers: Readonly<Record<string, string>> = {},
    /** Extra JSON fields, e.g. `used` and `limit` for a full buffer. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** A JSON response with the given status. */
export function jsonResponse(
  body: unknown,
  init: { status?: number; headers?: Readonly<Record<string, string>> } = {},
): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { "content-type": "application/json; charset=utf-8", ...init.headers },
  });
}

/** The JSON error response for an {@linkcode HttpError}. */
export function errorResponse(error: HttpError): Response {
  return jsonResponse(
    { error: error.code, message: error.message, ...error.details },
    { status: error.status, headers: error.headers },
  );
}
