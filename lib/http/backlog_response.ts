/**
 * The three renderings of a backlog page: JSON with base64 bodies (the default, for browsers and
 * people), and for a request whose `Accept` names one of them, binary envelope frames
 * (`protocol/backlog_page.ts`) or a packed page (`protocol/packed_page.ts`). The handler builds
 * one page; only the rendering differs.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import {
  backlogFormatOf,
  backlogPageHeaders,
  type BacklogPageInfo,
  BINARY_PAGES,
} from "../protocol/backlog_page.ts";
import { jsonResponse } from "./errors.ts";
import { scavenging } from "../guard/scavenge_pacer.ts";

/** A backlog page as the handler answers it, whichever the rendering. */
export interface RenderedPage extends BacklogPageInfo {
  readonly envelopes: readonly Envelope[];
}

/** The answer depends on `Accept`, so a cache must not hand one rendering to the other. */
const VARY = { vary: "accept" } as const;

function envelopeJson(envelope: Envelope) {
  return {
    seq: envelope.seq,
    from: envelope.from,
    to: envelope.to,
    created_at: envelope.createdAt,
    expires_at: envelope.expiresAt,
    size: envelope.body.byteLength,
    body: envelope.body.toBase64(),
  };
}

/** The page as JSON: envelopes with base64 bodies, and the page's fields. */
function backlogJsonResponse(page: RenderedPage): Response {
  return jsonResponse({
    envelopes: page.envelopes.map(envelopeJson),
    acked: page.acked,
    latest_seq: page.latestSeq,
    more: page.more,
  }, { headers: VARY });
}

/**
 * The page rendered as `request`'s `Accept` asks: packed or frames, its fields in
 * `X-VaultMesh-*` headers, else JSON.
 */
export function backlogResponse(request: Request, page: RenderedPage): Response {
  scavenging.made(page.envelopes.reduce((bytes, envelope) => bytes + envelope.body.byteLength, 0));
  const format = backlogFormatOf(request.headers.get("accept"));
  if (format === "json") return backlogJsonResponse(page);
  const { type, encode } = BINARY_PAGES[format];
  return new Response(encode(page.envelopes), {
    headers: { "content-type": type, ...VARY, ...backlogPageHeaders(page) },
  });
}
