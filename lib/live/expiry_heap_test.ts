import assert from "node:assert/strict";
import { ExpiryHeap } from "./expiry_heap.ts";

Deno.test("an expiry heap yields what expired, soonest first, and keeps the rest", () => {
  const heap = new ExpiryHeap<{ expiresAt: number; name: string }>();
  for (const [name, expiresAt] of [["c", 30], ["a", 10], ["d", 40], ["b", 20], ["e", 50]]) {
    heap.push({ name: name as string, expiresAt: expiresAt as number });
  }
  assert.deepEqual([...heap.popExpired(35)].map((item) => item.name), ["a", "b", "c"]);
  assert.equal(heap.size, 2);
  heap.retain((item) => item.name !== "d");
  assert.deepEqual([...heap.popExpired(100)].map((item) => item.name), ["e"]);
  assert.equal(heap.size, 0);
});
