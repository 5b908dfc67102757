import assert from "node:assert/strict";
import { SIGNAL_GRACE_MS, SignalCounter } from "./signals.ts";

Deno.test("the first stop signal stops, and its echoes within the grace period are repeats", () => {
  let now = 1000;
  const counter = new SignalCounter({ now: () => now });
  assert.equal(counter.next(), "stop");
  assert.equal(
    counter.next(),
    "repeat",
    "the same millisecond: terminal and deno task both sent it",
  );
  now += SIGNAL_GRACE_MS - 1;
  assert.equal(counter.next(), "repeat");
});

Deno.test("a stop signal after the grace period forces the exit", () => {
  let now = 0;
  const counter = new SignalCounter({ graceMs: 500, now: () => now });
  assert.equal(counter.next(), "stop");
  now = 500;
  assert.equal(counter.next(), "force");
  assert.equal(counter.next(), "force");
});
