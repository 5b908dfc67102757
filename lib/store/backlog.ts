/**
 * Reading a device's backlog: stored envelopes after a cursor, in seq order.
 *
 * A page is read as one row: its envelopes' fields as a JSON array and their bodies concatenated
 * in one blob, which the page's bodies are views of. A row per envelope made a buffer per body
 * in the runtime, which cost four times as long as the query itself (docs/BENCHMARKS.md, "Backlog
 * pages in one row").
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
 * The page's envelopes: the first `limit` in seq order that are the device's to read, cut where
 * the bodies so far would pass `maxBytes` (the first is always in). `fields` holds
 * `[seq, sender, recipient, created_at, expires_at, body length]` per envelope and `bodies` their
 * bodies back to back (NULL for an empty page), both in the order the rows reached the two
 * aggregates. That is seq order in practice, but SQL does not promise it, and an `ORDER BY` inside
 * the aggregates sorts the bodies again (five times slower), so the caller sorts the page instead.
 */
const PAGE_QUERY = `
  SELECT json_group_array(json_array(seq, sender, recipient, created_at, expires_at, size))
           AS fields,
         CAST(group_concat(body, x'') AS BLOB) AS bodies
  FROM (
    SELECT seq, sender, recipient, created_at, expires_at, length(body) AS size, body,
           sum(length(body)) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS through,
           row_number() OVER (ORDER BY seq) AS position
    FROM (
      SELECT seq, sender, recipient, created_at, expires_at, body FROM envelopes
      WHERE vault = ?1 AND seq > ?2 AND expires_at > ?3 AND sender != ?4
        AND (recipient IS NULL OR recipient = ?4)
      ORDER BY seq LIMIT ?5
    )
  )
  WHERE position = 1 OR through <= ?6`;

type PageFields = [number, string, string | null, number, number, number][];

/**
 * Envelopes for `device` with seq greater than `after`, oldest first, not expired, not its own,
 * broadcast or addressed to it; at most `limit` of them and about `maxBytes` of bodies. Their
 * bodies are views of one buffer holding the page's bodies.
 */
export function readBacklog(sql: Sql, query: BacklogRead): Envelope[] {
  const row = sql.get(PAGE_QUERY).get(
    query.vault,
    query.after,
    query.now,
    query.device,
    query.limit,
    query.maxBytes,
  ) as { fields: string; bodies: Uint8Array | null };
  const bodies = row.bodies ?? new Uint8Array();
  let at = 0;
  const page = (JSON.parse(row.fields) as PageFields).map(
    ([seq, from, to, createdAt, expiresAt, size]): Envelope => {
      const body = bodies.subarray(at, at + size);
      at += size;
      return { vault: query.vault, seq, from, to, createdAt, expiresAt, body };
    },
  );
  return inSeqOrder(page);
}

function inSeqOrder(page: Envelope[]): Envelope[] {
  for (let i = 1; i < page.length; i++) {
    if (page[i]!.seq < page[i - 1]!.seq) return page.sort((a, b) => a.seq - b.seq);
  }
  return page;
}
