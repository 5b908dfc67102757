/**
 * JSON responses, and the one place that renders a {@linkcode ProtocolError} as an HTTP answer.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

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

/** The JSON error response for a {@linkcode ProtocolError}: its status, code, message and fields. */
export function errorResponse(error: ProtocolError): Response {
  const headers: Record<string, string> = { ...error.headers };
  if (error.retryAfter !== undefined) headers["retry-after"] = String(error.retryAfter);
  return jsonResponse(
    { error: error.code, message: error.message, ...error.details },
    { status: error.status || 400, headers },
  );
}

/** The 500 answer to an unexpected error: no detail of it reaches the client. */
export function internalErrorResponse(): Response {
  return errorResponse(
    new ProtocolError("internal", "The relay hit an unexpected error; it has been logged"),
  );
}
