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

function tooSlow(timeoutMs: number): HttpError {
  return new HttpError(
    408,
    "body_timeout",
    `The request body did not arrive within ${timeoutMs / 1000} s`,
    { connection: "close" },
  );
}

/** Reads the next chunk, or throws 408 once `deadline` (a `performance.now()` time) passed. */
async function readBefore(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  deadline: { at: number; timeoutMs: number },
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(tooSlow(deadline.timeoutMs)),
      Math.max(0, deadline.at - performance.now()),
    );
  });
  try {
    return await Promise.race([reader.read(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Default time a whole body may take to arrive: slow senders would otherwise hold memory. */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * Reads the whole body, refusing (413) one that declares or turns out to be larger than
 * `limit` bytes without reading the rest, and (408) one that takes longer than `timeoutMs`.
 */
export async function readBody(
  request: Request,
  limit: number,
  timeoutMs = BODY_TIMEOUT_MS,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = request.body.getReader();
  const deadline = { at: performance.now() + timeoutMs, timeoutMs };
  try {
    for (
      let chunk = await readBefore(reader, deadline);
      !chunk.done;
      chunk = await readBefore(reader, deadline)
    ) {
      length += chunk.value.byteLength;
      if (length > limit) throw tooLarge(limit);
      chunks.push(chunk.value);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, "body_incomplete", "The request body ended before it was complete");
  } finally {
    reader.cancel().catch(() => {});
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
