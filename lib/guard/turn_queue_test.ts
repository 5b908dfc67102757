import assert from "node:assert/strict";
import { TurnQueue } from "./turn_queue.ts";

Deno.test("a turn queue lets its waiters go in order, a few per turn, behind work already ready", async () => {
  const queue = new TurnQueue(2);
  const order: string[] = [];
  const waits = [1, 2, 3, 4, 5].map((n) => queue.turn().then(() => order.push(`queued ${n}`)));
  setTimeout(() => order.push("timer set after them"), 0);
  await Promise.resolve();
  order.push("ready now");
  await Promise.all(waits);
  assert.deepEqual(order, [
    "ready now",
    "queued 1",
    "queued 2",
    "timer set after them",
    "queued 3",
    "queued 4",
    "queued 5",
  ]);
});
