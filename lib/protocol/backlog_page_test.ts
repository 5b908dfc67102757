import assert from "node:assert/strict";
import {
  BACKLOG_FRAMES_TYPE,
  backlogFormatOf,
  backlogMediaType,
  backlogPageHeaders,
  BINARY_PAGES,
  binaryPageOf,
  decodeBacklogPage,
  encodeBacklogPage,
  readBacklogPageHeaders,
} from "./backlog_page.ts";
import { encodeEnvelopeFrame, type EnvelopeFrame, FrameError } from "./socket_frames.ts";
import { BACKLOG_PACKED_TYPE } from "./packed_page.ts";

const ENVELOPES: EnvelopeFrame[] = [
  { seq: 1, from: "laptop", to: "phone", createdAt: 1767225600000, body: new Uint8Array([1, 2]) },
  { seq: 2, from: "laptop", to: null, createdAt: 1767225600001, body: new Uint8Array() },
  {
    seq: Number.MAX_SAFE_INTEGER,
    from: "tablet",
    to: null,
    createdAt: 1767225600002,
    body: Uint8Array.from({ length: 70_000 }, (_, i) => i % 251),
  },
];

Deno.test("a page decodes to the envelopes it was encoded from, in order", () => {
  assert.deepEqual(decodeBacklogPage(encodeBacklogPage(ENVELOPES)), ENVELOPES);
});

Deno.test("an empty page is an empty body", () => {
  assert.equal(encodeBacklogPage([]).byteLength, 0);
  assert.deepEqual(decodeBacklogPage(new Uint8Array()), []);
});

Deno.test("a page is each socket envelope frame behind its u32 big-endian length", () => {
  const page = encodeBacklogPage(ENVELOPES.slice(0, 2));
  const first = encodeEnvelopeFrame(ENVELOPES[0]!);
  const second = encodeEnvelopeFrame(ENVELOPES[1]!);
  assert.deepEqual(page.subarray(0, 4), new Uint8Array([0, 0, 0, first.byteLength]));
  assert.deepEqual(page.subarray(4, 4 + first.byteLength), first);
  const at = 4 + first.byteLength;
  assert.deepEqual(page.subarray(at, at + 4), new Uint8Array([0, 0, 0, second.byteLength]));
  assert.deepEqual(page.subarray(at + 4), second);
});

Deno.test("a page decodes from a view that does not start at its buffer's start", () => {
  const page = encodeBacklogPage(ENVELOPES);
  const padded = new Uint8Array(page.byteLength + 7);
  padded.set(page, 3);
  assert.deepEqual(decodeBacklogPage(padded.subarray(3, 3 + page.byteLength)), ENVELOPES);
});

Deno.test("a page cut anywhere inside a length or a frame is refused with a FrameError", () => {
  const page = encodeBacklogPage(ENVELOPES.slice(0, 2));
  const firstEnd = 4 + encodeEnvelopeFrame(ENVELOPES[0]!).byteLength;
  for (let cut = 1; cut < page.byteLength; cut++) {
    if (cut === firstEnd) continue; // a whole frame: a shorter, valid page
    assert.throws(() => decodeBacklogPage(page.subarray(0, cut)), FrameError, `cut at ${cut}`);
  }
  assert.equal(decodeBacklogPage(page.subarray(0, firstEnd)).length, 1);
});

Deno.test("a page holding a frame that is not an envelope frame is refused", () => {
  const sendFrame = new Uint8Array([0, 0, 0, 8, 2, 0, 0, 0, 7, 0, 0, 0x41]);
  assert.throws(() => decodeBacklogPage(sendFrame), FrameError);
  assert.throws(() => decodeBacklogPage(new Uint8Array(4)), FrameError, "a zero-length frame");
});

Deno.test("backlogFormatOf picks a binary type Accept lists with q above 0, the higher q of two, else JSON", () => {
  const cases: [string | null, string][] = [
    [BACKLOG_FRAMES_TYPE, "frames"],
    [BACKLOG_PACKED_TYPE, "packed"],
    ["Application/VND.VaultMesh.Frames", "frames"],
    [`application/json;q=0.5, ${BACKLOG_FRAMES_TYPE}`, "frames"],
    [`${BACKLOG_FRAMES_TYPE} ; q=0.1`, "frames"],
    [`${BACKLOG_FRAMES_TYPE}, ${BACKLOG_PACKED_TYPE}`, "packed"],
    [`${BACKLOG_FRAMES_TYPE}, ${BACKLOG_PACKED_TYPE};q=0.9`, "frames"],
    [`${BACKLOG_PACKED_TYPE};q=0.2, ${BACKLOG_FRAMES_TYPE};q=0.1`, "packed"],
    [`${BACKLOG_FRAMES_TYPE};q=0`, "json"],
    [`${BACKLOG_PACKED_TYPE};q=0.000`, "json"],
    [`${BACKLOG_PACKED_TYPE};q=nonsense`, "json"],
    [null, "json"],
    ["", "json"],
    ["*/*", "json"],
    ["application/*", "json"],
    ["application/json", "json"],
    ["application/vnd.vaultmesh.frames2", "json"],
  ];
  for (const [accept, expected] of cases) {
    assert.equal(backlogFormatOf(accept), expected, String(accept));
  }
});

Deno.test("each rendering has one media type, and a Content-Type names a binary one or none", () => {
  assert.equal(backlogMediaType("packed"), BACKLOG_PACKED_TYPE);
  assert.equal(backlogMediaType("frames"), BACKLOG_FRAMES_TYPE);
  assert.equal(backlogMediaType("json"), "application/json");
  assert.equal(binaryPageOf(`${BACKLOG_PACKED_TYPE}; charset=binary`), BINARY_PAGES.packed);
  assert.equal(binaryPageOf("Application/VND.VaultMesh.Frames"), BINARY_PAGES.frames);
  for (const type of [null, "", "application/json", "constructor", "__proto__", "toString"]) {
    assert.equal(binaryPageOf(type), undefined, String(type));
  }
  for (const codec of Object.values(BINARY_PAGES)) {
    assert.deepEqual(codec.decode(codec.encode(ENVELOPES)), ENVELOPES, codec.type);
  }
});

Deno.test("page headers round-trip and a missing or malformed one is refused", () => {
  const info = { acked: 16, latestSeq: 18, more: true };
  assert.deepEqual(backlogPageHeaders(info), {
    "x-vaultmesh-acked": "16",
    "x-vaultmesh-latest-seq": "18",
    "x-vaultmesh-more": "true",
  });
  assert.deepEqual(readBacklogPageHeaders(new Headers(backlogPageHeaders(info))), info);
  const broken: Record<string, string>[] = [
    { "x-vaultmesh-acked": "16", "x-vaultmesh-latest-seq": "18" },
    { "x-vaultmesh-acked": "16", "x-vaultmesh-latest-seq": "18", "x-vaultmesh-more": "1" },
    { "x-vaultmesh-acked": "-1", "x-vaultmesh-latest-seq": "18", "x-vaultmesh-more": "false" },
    { "x-vaultmesh-acked": "16", "x-vaultmesh-latest-seq": "018", "x-vaultmesh-more": "false" },
    {
      "x-vaultmesh-acked": "16",
      "x-vaultmesh-latest-seq": "9007199254740992",
      "x-vaultmesh-more": "false",
    },
  ];
  for (const headers of broken) {
    assert.throws(() => readBacklogPageHeaders(new Headers(headers)), FrameError);
  }
});
