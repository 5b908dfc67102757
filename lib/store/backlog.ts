/**
 * Reading a device's backlog: stored envelopes after a cursor, in seq order.
 *
 * A page is read with two statements of one row each: its envelopes' fields as a JSON array, then
 * their bodies concatenated in one blob, which the page's bodies are views of. A row per envelope
 * made a buffer per body in the runtime, which cost four times as long as the query itself
 * (docs/BENCHMARKS.md, "Backlog pages in one row").
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

/** The envelopes `device` may read after a cursor (`?2`) at a time (`?3`), in seq order. */
const READABLE = `
  FROM envelopes
  WHERE vault = ?1 AND seq > ?2 AND expires_at > ?3 AND sender != ?4
    AND (recipient IS NULL OR recipient = ?4)`;

/**
 * The first `limit` (`?5`) readable envelopes' fields, without their bodies, as a JSON array of
 * `[seq, sender, recipient, created_at, expires_at, body length]`: enough to cut the page.
 */
const FIELDS_QUERY = `
  SELECT json_group_array(json_array(seq, sender, recipient, created_at, expires_at, size))
           AS fields
  FROM (
    SELECT seq, sender, recipient, created_at, expires_at, length(body) AS size ${READABLE}
    ORDER BY seq LIMIT ?5
  )`;

/**
 * The bodies of the readable envelopes up to seq `?5`, back to back (NULL for none), with their
 * count and total length to check them against the fields. Cutting the page in a window
 * function instead (one query) copied every body into the window's sort: a third slower.
 */
const BODIES_QUERY = `
  SELECT CAST(group_concat(body, x'') AS BLOB) AS bodies, count(*) AS count,
         sum(length(body)) AS bytes
  FROM (SELECT body ${READABLE} AND seq <= ?5 ORDER BY seq)`;

/** The same envelopes a row each: what a page falls back to if the two reads disagree. */
const ROWS_QUERY = `
  SELECT seq, sender, recipient, created_at, expires_at, body ${READABLE} AND seq <= ?5
  ORDER BY seq`;

type PageFields = [number, string, string | null, number, number, number][];

/**
 * Envelopes for `device` with seq greater than `after`, oldest first, not expired, not its own,
 * broadcast or addressed to it; at most `limit` of them, cut where the bodies so far would pass
 * `maxBytes` (the first is always in). Their bodies are views of one buffer holding the page's
 * bodies.
 */
export function readBacklog(sql: Sql, query: BacklogRead): Envelope[] {
  const { vault, after, now, device } = query;
  const { fields } = sql.get(FIELDS_QUERY).get(vault, after, now, device, query.limit) as {
    fields: string;
  };
  // The aggregates follow the subquery's seq order in practice, not by SQL's promise: fields out
  // of order say the bodies may be too, so the page is then read a row at a time.
  const read = JSON.parse(fields) as PageFields;
  const inOrder = ascending(read);
  const page = cutPage(inOrder ? read : read.toSorted((a, b) => a[0] - b[0]), query.maxBytes);
  const last = page.at(-1);
  if (!last) return [];
  if (!inOrder) return readRows(sql, query, last[0]);
  const row = sql.get(BODIES_QUERY).get(vault, after, now, device, last[0]) as {
    bodies: Uint8Array | null;
    count: number;
    bytes: number | null;
  };
  const bytes = page.reduce((sum, envelope) => sum + envelope[5], 0);
  if (row.count !== page.length || (row.bytes ?? 0) !== bytes) {
    return readRows(sql, query, last[0]);
  }
  const bodies = row.bodies ?? new Uint8Array();
  let at = 0;
  return page.map(([seq, from, to, createdAt, expiresAt, size]): Envelope => {
    const body = bodies.subarray(at, at + size);
    at += size;
    return { vault, seq, from, to, createdAt, expiresAt, body };
  });
}

/** The leading envelopes whose bodies together stay within `maxBytes`, and at least the first. */
function cutPage(fields: PageFields, maxBytes: number): PageFields {
  let bytes = 0;
  for (let i = 0; i < fields.length; i++) {
    bytes += fields[i]![5];
    if (i > 0 && bytes > maxBytes) return fields.slice(0, i);
  }
  return fields;
}

function ascending(page: PageFields): boolean {
  for (let i = 1; i < page.length; i++) if (page[i]![0] <= page[i - 1]![0]) return false;
  return true;
}

/**
 * The page up to seq `last`, read a row at a time: when the fields came out of seq order, or when
 * the bodies disagree with them. The two reads above run back to back on one connection, so they
 * agree unless another process wrote in between; then this read (one statement) decides.
 */
function readRows(sql: Sql, query: BacklogRead, last: number): Envelope[] {
  const rows = sql.get(ROWS_QUERY).all(query.vault, query.after, query.now, query.device, last) as {
    seq: number;
    sender: string;
    recipient: string | null;
    created_at: number;
    expires_at: number;
    body: Uint8Array;
  }[];
  return rows.map((row) => ({
    vault: query.vault,
    seq: row.seq,
    from: row.sender,
    to: row.recipient,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    body: row.body,
  }));
}
