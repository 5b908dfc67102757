import assert from "node:assert/strict";
import { GroupCommit, type GroupCommitOptions } from "./group_commit.ts";

/** Items are strings; their size is their length. */
const BOUNDS: GroupCommitOptions<string> = {
  maxItems: 100,
  maxBytes: 1000,
  sizeOf: (item) => item.length,
};

/** A group commit that records each batch and answers each item with its upper case. */
function recording(options: Partial<GroupCommitOptions<string>> = {}) {
  const batches: string[][] = [];
  const writes = new GroupCommit<string, string>((items) => {
    batches.push([...items]);
    return items.map((item) => item.toUpperCase());
  }, { ...BOUNDS, ...options });
  return { writes, batches };
}

Deno.test("group commit puts items submitted in the same turn into one commit", async () => {
  const { writes, batches } = recording();
  const outcomes = Promise.all(["a", "b", "c"].map((item) => writes.submit(item)));
  assert.equal(writes.pending, 3);
  assert.deepEqual(batches, [], "nothing is committed synchronously");
  assert.deepEqual(await outcomes, ["A", "B", "C"]);
  assert.deepEqual(batches, [["a", "b", "c"]]);
  assert.equal(writes.pending, 0);
});

Deno.test("group commit starts a new commit for items submitted after the last one", async () => {
  const { writes, batches } = recording();
  assert.equal(await writes.submit("a"), "A");
  assert.equal(await writes.submit("b"), "B");
  assert.deepEqual(batches, [["a"], ["b"]]);
});

Deno.test("group commit splits a batch at maxItems", async () => {
  const { writes, batches } = recording({ maxItems: 2 });
  const outcomes = await Promise.all(["a", "b", "c", "d", "e"].map((item) => writes.submit(item)));
  assert.deepEqual(outcomes, ["A", "B", "C", "D", "E"]);
  assert.deepEqual(batches, [["a", "b"], ["c", "d"], ["e"]]);
});

Deno.test("group commit splits a batch at maxBytes", async () => {
  const { writes, batches } = recording({ maxBytes: 8 });
  await Promise.all(["aaaa", "bbbb", "cccc", "d"].map((item) => writes.submit(item)));
  assert.deepEqual(batches, [["aaaa", "bbbb"], ["cccc", "d"]]);
});

Deno.test("group commit commits an item larger than maxBytes alone", async () => {
  const { writes, batches } = recording({ maxBytes: 8 });
  const large = "x".repeat(20);
  await Promise.all(["a", large, "b", "c"].map((item) => writes.submit(item)));
  assert.deepEqual(batches, [["a"], [large], ["b", "c"]]);
});

Deno.test("group commit rejects only the item whose outcome is an Error", async () => {
  const writes = new GroupCommit<string, string>(
    (items) => items.map((item) => item === "bad" ? new RangeError(`Refusing "${item}"`) : item),
    BOUNDS,
  );
  const good = writes.submit("good");
  const bad = writes.submit("bad");
  const alsoGood = writes.submit("also good");
  await assert.rejects(bad, RangeError);
  assert.equal(await good, "good");
  assert.equal(await alsoGood, "also good");
});

Deno.test("group commit rejects the whole batch when the commit throws, and goes on after", async () => {
  let failing = true;
  const writes = new GroupCommit<string, string>((items) => {
    if (failing) throw new Error("disk on fire");
    return [...items];
  }, BOUNDS);
  const first = writes.submit("a");
  const second = writes.submit("b");
  await assert.rejects(first, /disk on fire/);
  await assert.rejects(second, /disk on fire/);
  failing = false;
  assert.equal(await writes.submit("c"), "c");
});

Deno.test("group commit reports each committed batch's size to its observer", async () => {
  const observed: number[] = [];
  const { writes } = recording({
    maxItems: 2,
    observe: (size, milliseconds) => {
      assert.ok(milliseconds >= 0);
      observed.push(size);
    },
  });
  await Promise.all(["a", "b", "c"].map((item) => writes.submit(item)));
  assert.deepEqual(observed, [2, 1]);
});

Deno.test("group commit is drained once every submitted item is committed", async () => {
  const { writes, batches } = recording({ maxItems: 1 });
  await writes.drained();
  let answered = 0;
  for (const item of ["a", "b", "c"]) writes.submit(item).then(() => answered++);
  await writes.drained();
  assert.deepEqual(batches, [["a"], ["b"], ["c"]]);
  assert.equal(writes.pending, 0);
  await Promise.resolve();
  assert.equal(answered, 3);
});
