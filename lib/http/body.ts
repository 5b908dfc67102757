/**
 * Reading request bodies within a size limit, and parsing small JSON bodies.
 *
 * @module
 */
import { HttpError } from "./errors.ts";

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    "too_large",
    `The body is larger than this endpoint's limit of ${limit} bytes`,
    {},
    { limit },
  );
}

/**
 * Reads the whole body, refusing (413) one that declares or turns out to be larger than
 * `limit` bytes without reading the rest.
 */
export async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = request.body.getReader();
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      length += chunk.value.byteLength;
      if (length > limit) throw tooLarge(limit);
      chunks.push(chunk.value);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, "body_incomplete", "The request body ended before it was complete");
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]! as Uint8Array<ArrayBuffer>;
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Parses `body` as JSON and checks its shape.
 *
 * @throws {HttpError} 400 `bad_json` naming what was expected.
 */
export function readJson<T>(
  body: Uint8Array,
  isValid: (value: unknown) => value is T,
  expected: string,
): T {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new HttpError(400, "bad_json", `The body is not JSON: expected ${expected}`);
  }
  if (!isValid(value)) throw new HttpError(400, "bad_json", `Expected ${expected}`);
  return value;
}
