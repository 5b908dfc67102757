/**
 * JSON responses, and the one place that renders a {@linkcode ProtocolError} as an HTTP answer:
 * a `Response`, or the raw bytes the connection gate writes itself.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";

const JSON_TYPE = "application/json; charset=utf-8";

/** A JSON response with the given status. */
export function jsonResponse(
  body: unknown,
  init: { status?: number; headers?: Readonly<Record<string, string>> } = {},
): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { "content-type": JSON_TYPE, ...init.headers },
  });
}

/** The JSON body of the error answer to `error`: its code, message and fields. */
function errorBody(error: ProtocolError): string {
  return JSON.stringify({ error: error.code, message: error.message, ...error.details });
}

/** The headers of the error answer to `error`: its own and `Retry-After`. */
function errorHeaders(error: ProtocolError): Record<string, string> {
  const headers: Record<string, string> = { ...error.headers };
  if (error.retryAfter !== undefined) headers["retry-after"] = String(error.retryAfter);
  return headers;
}

/** The JSON error response for a {@linkcode ProtocolError}: its status, code, message and fields. */
export function errorResponse(error: ProtocolError): Response {
  return new Response(errorBody(error), {
    status: error.status || 400,
    headers: { "content-type": JSON_TYPE, ...errorHeaders(error) },
  });
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
  const body = new TextEncoder().encode(errorBody(error));
  const headers: Record<string, string> = {
    "content-type": JSON_TYPE,
    ...errorHeaders(error),
    "connection": "close",
    "content-length": String(body.length),
  };
  const status = error.status || 400;
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const bytes = new TextEncoder().encode(`${head}\r\n`);
  const answer = new Uint8Array(bytes.length + body.length);
  answer.set(bytes);
  answer.set(body, bytes.length);
  return answer;
}

/** Reason phrases of the statuses the gate answers itself (any other is sent without one). */
const REASONS: Readonly<Record<number, string>> = { 503: "Service Unavailable" };
