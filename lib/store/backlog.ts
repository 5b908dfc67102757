/**
 * Reading a device's backlog: stored envelopes after a cursor, in seq order.
 *
 * @module
 */
import type { Sql } from "./sql.ts";
import type { Envelope } from "../protocol/envelope.ts";

/** Which envelopes to read. */
export interface BacklogRead {
  readonly vault: string;
  readonly device: string;
  /** Envelopes with a greater seq. */
  readonly after: number;
  /** Most envelopes in the page. */
  readonly limit: number;
  /** About how many body bytes (at least one envelope if any). */
  readonly maxBytes: number;
  /** Envelopes expired by then are left out. */
  readonly now: number;
}

/**
 * Envelopes for `device` with seq greater than `after`, oldest first, not expired, not its own,
 * broadcast or addressed to it; at most `limit` of them and about `maxBytes` of bodies.
 */
export function readBacklog(sql: Sql, query: BacklogRead): Envelope[] {
  const rows = sql.get(
    "SELECT seq, sender, recipient, created_at, expires_at, body FROM envelopes " +
      "WHERE vault = ? AND seq > ? AND expires_at > ? AND sender != ? " +
      "AND (recipient IS NULL OR recipient = ?) ORDER BY seq LIMIT ?",
  ).iterate(query.vault, query.after, query.now, query.device, query.device, query.limit);
  const page: Envelope[] = [];
  let bytes = 0;
  for (const row of rows as Iterable<Record<string, unknown>>) {
    const body = row.body as Uint8Array;
    if (page.length > 0 && bytes + body.byteLength > query.maxBytes) break;
    bytes += body.byteLength;
    page.push({
      vault: query.vault,
      seq: row.seq as number,
      from: row.sender as string,
      to: row.recipient as string | null,
      createdAt: row.created_at as number,
      expiresAt: row.expires_at as number,
      body,
    });
  }
  return page;
}
