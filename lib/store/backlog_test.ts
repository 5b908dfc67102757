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

/** Statements as `Sql` has them, except that the bodies' read reports one envelope too many. */
class DisagreeingSql extends Sql {
  override get(text: string): StatementSync {
    const statement = super.get(text);
    if (!text.includes("group_concat(body")) return statement;
    return {
      get: (...args: never[]) => {
        const row = statement.get(...args) as { count: number };
        return { ...row, count: row.count + 1 };
      },
    } as unknown as StatementSync;
  }
}

Deno.test("a backlog page whose bodies do not match its fields is read again a row at a time", () => {
  checkPages(seeds(41, 50), (db) => new DisagreeingSql(db));
});

/** Statements as `Sql` has them, except that the fields' aggregate comes out in reverse order. */
class ReversedFieldsSql extends Sql {
  override get(text: string): StatementSync {
    const statement = super.get(text);
    if (!text.includes("json_group_array")) return statement;
    return {
      get: (...args: never[]) => {
        const row = statement.get(...args) as { fields: string };
        return { fields: JSON.stringify((JSON.parse(row.fields) as unknown[]).reverse()) };
      },
    } as unknown as StatementSync;
  }
}

Deno.test("a backlog page whose fields come out of seq order is read a row at a time, within its limit and byte budget", () => {
  checkPages(seeds(51, 60), (db) => new ReversedFieldsSql(db));
});
