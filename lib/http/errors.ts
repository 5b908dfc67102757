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

/**
 * The raw HTTP/1.1 bytes of {@linkcode errorResponse}'s answer with `Connection: close`, for a
 * refusal written before any HTTP server saw the request (the connection gate's).
 */
export function errorAnswerBytes(error: ProtocolError): Uint8Array {
  const body = new TextEncoder().encode(
    JSON.stringify({ error: error.code, message: error.message, ...error.details }),
  );
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    ...error.headers,
    ...(error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) }),
    "connection": "close",
    "content-length": String(body.length),
  };
  let head = `HTTP/1.1 ${error.status || 400} ${REASONS[error.status] ?? ""}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const bytes = new TextEncoder().encode(`${head}\r\n`);
  const answer = new Uint8Array(bytes.length + body.length);
  answer.set(bytes);
  answer.set(body, bytes.length);
  return answer;
}

/** Reason phrases of the statuses the gate answers itself (any other is sent without one). */
const REASONS: Readonly<Record<number, string>> = { 503: "Service Unavailable" };
