import assert from "node:assert/strict";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { type BacklogRead, readBacklog } from "./backlog.ts";
import { Sql } from "./sql.ts";
import { openStore, TTL } from "./_open_store.ts";
import type { Envelope, SendRequest } from "../protocol/envelope.ts";

const T = Date.UTC(2026, 0, 1);
const DEVICES = ["phone", "laptop", "tablet"];

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A vault of random envelopes, appended at random times, and every envelope as stored. */
function randomVault(seed: number) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const store = openStore({ maxBufferBytes: 1e9, maxEnvelopesPerVault: 1e6, maxStoredBytes: 1e9 });
  const stored: Envelope[] = [];
  for (let batch = 0; batch < 20; batch++) {
    const now = T + Math.floor(next() * TTL);
    const sends: SendRequest[] = Array.from({ length: 1 + Math.floor(next() * 8) }, () => {
      const from = pick(DEVICES);
      const body = crypto.getRandomValues(new Uint8Array(Math.floor(next() * 3000)));
      return { vault: "v1", from, to: next() < 0.3 ? pick(DEVICES) : null, body };
    });
    store.appendBatch(sends, now).forEach((outcome, i) => {
      if (outcome.kind !== "stored") throw new Error(`not stored: ${outcome.kind}`);
      const { from, to, body } = sends[i]!;
      const { seq, expiresAt } = outcome;
      stored.push({ vault: "v1", seq, from, to, createdAt: now, expiresAt, body });
    });
  }
  return { store, stored, next, pick };
}

/** What a page must hold, computed from the stored envelopes alone. */
function expectedPage(stored: readonly Envelope[], query: BacklogRead): Envelope[] {
  const readable = stored.filter((envelope) =>
    envelope.seq > query.after && envelope.expiresAt > query.now &&
    envelope.from !== query.device && (envelope.to === null || envelope.to === query.device)
  ).slice(0, query.limit);
  let bytes = 0;
  const cut = readable.findIndex((envelope, i) => {
    bytes += envelope.body.byteLength;
    return i > 0 && bytes > query.maxBytes;
  });
  return cut < 0 ? readable : readable.slice(0, cut);
}

/**
 * A random query; half of them with a byte budget that the first few readable bodies fill
 * exactly, where the cut is easiest to get wrong by one.
 */
function randomQuery(vault: ReturnType<typeof randomVault>): BacklogRead {
  const { next, pick, stored } = vault;
  const query = {
    vault: "v1",
    device: pick(DEVICES),
    after: Math.floor(next() * (stored.length + 2)),
    limit: 1 + Math.floor(next() * 40),
    maxBytes: Math.floor(next() * 20_000),
    now: T + Math.floor(next() * 2 * TTL),
  };
  if (next() < 0.5) return query;
  const readable = expectedPage(stored, { ...query, maxBytes: Infinity });
  const exact = readable.slice(0, 1 + Math.floor(next() * readable.length));
  return { ...query, maxBytes: exact.reduce((sum, envelope) => sum + envelope.body.byteLength, 0) };
}

/** Reads 25 random pages of each seeded vault through `sqlOf` and checks them against the model. */
function checkPages(seeds: readonly number[], sqlOf: (db: DatabaseSync) => Sql): void {
  for (const seed of seeds) {
    const vault = randomVault(seed);
    const sql = sqlOf(vault.store.database.handle);
    for (let q = 0; q < 25; q++) {
      const query = randomQuery(vault);
      assert.deepEqual(readBacklog(sql, query), expectedPage(vault.stored, query), `seed ${seed}`);
    }
    vault.store[Symbol.dispose]();
  }
}

const seeds = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("a backlog page holds exactly the device's envelopes after the cursor, cut at the limit and the byte budget", () => {
  checkPages(seeds(1, 40), (db) => new Sql(db));
});

/** A row of a statement, changed: what `AlteredSql` answers instead. */
type Alter = (row: Record<string, unknown>) => unknown;

/** Statements as `Sql` has them, except that those whose text holds a key of `alters` answer its alter. */
class AlteredSql extends Sql {
  constructor(db: DatabaseSync, private readonly alters: Readonly<Record<string, Alter>>) {
    super(db);
  }

  override get(text: string): StatementSync {
    const statement = super.get(text);
    const alter = Object.entries(this.alters).find(([marker]) => text.includes(marker))?.[1];
    if (!alter) return statement;
    return {
      get: (...args: never[]) => alter(statement.get(...args) as Record<string, unknown>),
    } as unknown as StatementSync;
  }
}

const FIELDS = "json_group_array";
const BODIES = "group_concat(body";

/**
 * The bodies' read as if another process deleted the page's first envelope after the fields' read
 * (an acknowledgement): one envelope and its bytes fewer.
 */
function firstEnvelopeGone(db: DatabaseSync): Sql {
  let first = 0;
  const fields: Alter = (row) => {
    first = (JSON.parse(String(row.fields)) as number[][])[0]?.[5] ?? 0;
    return row;
  };
  const bodies: Alter = (row) => {
    if (!(row.bodies instanceof Uint8Array)) return row;
    const bytes = Number(row.bytes) - first;
    return { bodies: row.bodies.subarray(first), count: Number(row.count) - 1, bytes };
  };
  return new AlteredSql(db, { [FIELDS]: fields, [BODIES]: bodies });
}

Deno.test("a backlog page whose bodies do not match its fields is read again a row at a time", () => {
  checkPages(seeds(41, 50), firstEnvelopeGone);
});

/**
 * Both aggregates in reverse seq order, as SQL would be free to give them: the fields, and the
 * bodies' concatenation (cut by the lengths the fields read last gave, in seq order).
 */
function reversedAggregates(db: DatabaseSync): Sql {
  let lengths: number[] = [];
  const fields: Alter = (row) => {
    const read = JSON.parse(String(row.fields)) as number[][];
    lengths = read.map((field) => field[5]!);
    return { fields: JSON.stringify(read.toReversed()) };
  };
  const bodies: Alter = (row) => {
    if (!(row.bodies instanceof Uint8Array)) return row;
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const length of lengths.slice(0, Number(row.count))) {
      parts.push(row.bodies.subarray(at, at += length));
    }
    const reversed = new Uint8Array(row.bodies.length);
    let offset = 0;
    for (const part of parts.toReversed()) {
      reversed.set(part, offset);
      offset += part.length;
    }
    return { ...row, bodies: reversed };
  };
  return new AlteredSql(db, { [FIELDS]: fields, [BODIES]: bodies });
}

Deno.test("a backlog page whose aggregates come out of seq order is read a row at a time, within its limit and byte budget", () => {
  checkPages(seeds(51, 60), reversedAggregates);
});
