/**
 * Binary backlog pages, shared by the relay and the reference client. A device that asks for
 * `GET …/envelopes` with `Accept: application/vnd.vaultmesh.frames` gets its page as the socket's
 * envelope frames (type 1, `socket_frames.ts`), each behind its length:
 *
 *   u32 length | envelope frame | u32 length | envelope frame | …
 *
 * (big-endian; an empty page is an empty body). `Accept: application/vnd.vaultmesh.packed` gets the
 * same envelopes packed tighter (`packed_page.ts`); {@linkcode backlogFormatOf} picks the rendering.
 * Either way the page's `acked`, `latest_seq` and `more` travel in response headers, and there is
 * no `expires_at`: a device that needs it asks for JSON.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode("ciphertext");
 * const page = encodeBacklogPage([{ seq: 1, from: "laptop", to: null, createdAt: 0, body }]);
 * const [frame] = decodeBacklogPage(page); // frame.seq === 1
 * ```
 *
 * @module
 */
import { BACKLOG_PACKED_TYPE, decodePackedPage, encodePackedPage } from "./packed_page.ts";
import {
  decodeEnvelopeFrame,
  type EnvelopeFrame,
  envelopeFrameSize,
  FrameError,
  writeEnvelopeFrame,
} from "./socket_frames.ts";

/** The media type of a binary backlog page, in `Accept` and `Content-Type`. */
export const BACKLOG_FRAMES_TYPE = "application/vnd.vaultmesh.frames";

/** The response headers that carry a binary page's metadata (lower-case). */
export const BACKLOG_PAGE_HEADERS = {
  acked: "x-vaultmesh-acked",
  latestSeq: "x-vaultmesh-latest-seq",
  more: "x-vaultmesh-more",
} as const;

/** A page's metadata: what the JSON page carries besides its envelopes. */
export interface BacklogPageInfo {
  /** The device's acknowledged cursor. */
  readonly acked: number;
  /** The highest seq assigned in the vault. */
  readonly latestSeq: number;
  /** True when higher seqs exist in the vault than the page's last. */
  readonly more: boolean;
}

/** Bytes of the length in front of each frame. */
const LENGTH_BYTES = 4;

/** The renderings of a backlog page: packed (`packed_page.ts`), envelope frames, or JSON. */
export type BacklogFormat = "packed" | "frames" | "json";

/** A binary rendering of a page: its media type, and how its body is written and read. */
export interface BinaryPageCodec {
  readonly type: string;
  readonly encode: (envelopes: readonly EnvelopeFrame[]) => Uint8Array<ArrayBuffer>;
  /** @throws {FrameError} when the body cannot be decoded. */
  readonly decode: (bytes: Uint8Array) => EnvelopeFrame[];
}

/** Each binary rendering of a backlog page, by format. */
export const BINARY_PAGES: Readonly<Record<Exclude<BacklogFormat, "json">, BinaryPageCodec>> = {
  packed: { type: BACKLOG_PACKED_TYPE, encode: encodePackedPage, decode: decodePackedPage },
  frames: { type: BACKLOG_FRAMES_TYPE, encode: encodeBacklogPage, decode: decodeBacklogPage },
};

/** The media type that names `format` in `Accept` and `Content-Type`. */
export function backlogMediaType(format: BacklogFormat): string {
  return format === "json" ? "application/json" : BINARY_PAGES[format].type;
}

/** The binary rendering a `Content-Type` names; undefined for JSON or anything else. */
export function binaryPageOf(contentType: string | null): BinaryPageCodec | undefined {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  return Object.values(BINARY_PAGES).find((codec) => codec.type === type);
}

/**
 * The rendering an `Accept` header asks for: a binary type it lists with a `q` above 0 (the
 * higher `q` when it lists both; packed on a tie), else JSON (no header, a wildcard,
 * `application/json`).
 *
 * @example
 * ```ts
 * backlogFormatOf("application/vnd.vaultmesh.frames, application/json;q=0.5"); // "frames"
 * backlogFormatOf("application/vnd.vaultmesh.packed"); // "packed"
 * backlogFormatOf("application/json"); // "json"
 * ```
 */
export function backlogFormatOf(accept: string | null): BacklogFormat {
  const quality = { packed: 0, frames: 0 };
  for (const range of accept?.split(",") ?? []) {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const format = (["packed", "frames"] as const).find((name) => BINARY_PAGES[name].type === type);
    if (!format) continue;
    const q = params.find((param) => param.startsWith("q="));
    quality[format] = Math.max(quality[format], q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  if (quality.packed === 0 && quality.frames === 0) return "json";
  return quality.packed >= quality.frames ? "packed" : "frames";
}

/** Encodes envelopes, in order, as the body of a binary page. */
export function encodeBacklogPage(envelopes: readonly EnvelopeFrame[]): Uint8Array<ArrayBuffer> {
  const sizes = envelopes.map(envelopeFrameSize);
  let total = 0;
  for (const size of sizes) total += LENGTH_BYTES + size;
  const page = new Uint8Array(total);
  const view = new DataView(page.buffer);
  let at = 0;
  for (const [i, envelope] of envelopes.entries()) {
    view.setUint32(at, sizes[i]!);
    at = writeEnvelopeFrame(envelope, { bytes: page, at: at + LENGTH_BYTES });
  }
  return page;
}

/**
 * Decodes the body of a binary page into its envelope frames. Bodies are views into `bytes`,
 * not copies.
 *
 * @throws {FrameError} when a length runs past the end or a frame is not an envelope frame.
 */
export function decodeBacklogPage(bytes: Uint8Array): EnvelopeFrame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: EnvelopeFrame[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    if (at + LENGTH_BYTES > bytes.byteLength) {
      throw new FrameError(`The page ends inside the length of frame ${frames.length + 1}`);
    }
    const length = view.getUint32(at);
    const start = at + LENGTH_BYTES;
    if (start + length > bytes.byteLength) {
      throw new FrameError(
        `Frame ${frames.length + 1} of the page is ${length} bytes but only ${
          bytes.byteLength - start
        } remain`,
      );
    }
    frames.push(decodeEnvelopeFrame(bytes.subarray(start, start + length)));
    at = start + length;
  }
  return frames;
}

/** The response headers of a binary page with `info`. */
export function backlogPageHeaders(info: BacklogPageInfo): Record<string, string> {
  return {
    [BACKLOG_PAGE_HEADERS.acked]: String(info.acked),
    [BACKLOG_PAGE_HEADERS.latestSeq]: String(info.latestSeq),
    [BACKLOG_PAGE_HEADERS.more]: String(info.more),
  };
}

/**
 * Reads a binary page's metadata from its response headers.
 *
 * @throws {FrameError} when a header is missing or not what the protocol says.
 */
export function readBacklogPageHeaders(headers: Headers): BacklogPageInfo {
  const seqHeader = (name: string) => {
    const value = headers.get(name);
    if (value === null || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(+value)) {
      throw new FrameError(
        `Cannot read ${name} ${JSON.stringify(value)}: expected a non-negative integer`,
      );
    }
    return Number(value);
  };
  const more = headers.get(BACKLOG_PAGE_HEADERS.more);
  if (more !== "true" && more !== "false") {
    throw new FrameError(
      `Cannot read ${BACKLOG_PAGE_HEADERS.more} ${JSON.stringify(more)}: expected true or false`,
    );
  }
  return {
    acked: seqHeader(BACKLOG_PAGE_HEADERS.acked),
    latestSeq: seqHeader(BACKLOG_PAGE_HEADERS.latestSeq),
    more: more === "true",
  };
}
