/**
 * Reading request bodies within a size limit, and parsing small JSON bodies.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import { validateSize } from "../protocol/validate.ts";
import type { RequestContext } from "./router.ts";

function tooSlow(timeoutMs: number): ProtocolError {
  return new ProtocolError(
    "body_timeout",
    `The request body did not arrive within ${timeoutMs / 1000} s`,
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

/**
 * Reads the whole body, refusing (413) one that declares or turns out to be larger than
 * `limit` bytes without reading the rest, (408) one that takes longer than `timeoutMs`, and
 * (503 `busy`) one the relay's memory budget cannot hold; its bytes stay held on the request's
 * budget until the request is answered.
 */
export async function readBody(
  context: RequestContext,
  options: { limit: number; timeoutMs: number },
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await readWithin(context, options);
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.code === "body_incomplete") throw error;
    // The rest of the body is not read: ask the client to close, or it keeps sending it.
    throw new ProtocolError(error.code, error.message, {
      details: error.details,
      ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
      headers: { ...error.headers, connection: "close" },
    });
  }
}

async function readWithin(
  context: RequestContext,
  options: { limit: number; timeoutMs: number },
): Promise<Uint8Array<ArrayBuffer>> {
  const { request, hold } = context;
  const { limit, timeoutMs } = options;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared >= 0) {
    validateSize(declared, limit);
    hold.take(declared);
  }
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
      validateSize(length, limit);
      // A body without Content-Length is held as it arrives.
      if (!(declared >= 0)) hold.take(chunk.value.byteLength);
      chunks.push(chunk.value);
    }
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError("body_incomplete", "The request body ended before it was complete");
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
 * @throws {ProtocolError} `bad_json` naming what was expected.
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
    throw new ProtocolError("bad_json", `The body is not JSON: expected ${expected}`);
  }
  if (!isValid(value)) throw new ProtocolError("bad_json", `Expected ${expected}`);
  return value;
}
