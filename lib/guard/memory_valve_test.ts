import assert from "node:assert/strict";
import { type MemoryProbe, MemoryValve } from "./memory_valve.ts";

const MiB = 1024 * 1024;
const LIMITS = {
  checkEveryMs: 100,
  trimAboveBytes: 32 * MiB,
  refuseAboveBytes: 54 * MiB,
  resumeBelowBytes: 48 * MiB,
};

/** A process whose memory is `bytes` and whose trims free `freedByTrim` of it. */
function fakeProcess(bytes: number, freedByTrim = 0) {
  const state = { bytes, freedByTrim, trims: 0, collections: 0 };
  const probe: MemoryProbe = {
    anonymousBytes: () => state.bytes,
    trim: () => {
      state.trims++;
      state.bytes -= state.freedByTrim;
    },
  };
  const valve = new MemoryValve(LIMITS, probe, { collect: () => state.collections++ });
  return { state, valve };
}

Deno.test("below the trim mark the valve leaves the heap alone and lets work in", () => {
  const { state, valve } = fakeProcess(20 * MiB);
  valve.check();
  assert.equal(state.trims, 0);
  assert.equal(valve.underPressure, false);
  assert.equal(valve.lastBytes, 20 * MiB);
});

Deno.test("above the trim mark it trims every check and collects fully every tenth", () => {
  const { state, valve } = fakeProcess(40 * MiB);
  for (let i = 0; i < 11; i++) valve.check();
  assert.equal(state.trims, 11);
  assert.equal(state.collections, 2, "the first check and the eleventh");
  assert.equal(valve.underPressure, false);
});

Deno.test("memory a trim gives back does not count: only what is left sets the pressure", () => {
  const { state, valve } = fakeProcess(60 * MiB, 10 * MiB);
  valve.check();
  assert.equal(state.trims, 1);
  assert.equal(valve.lastBytes, 50 * MiB);
  assert.equal(valve.underPressure, false);
});

Deno.test("above the refuse mark new work waits until memory falls below the resume mark", () => {
  const { state, valve } = fakeProcess(56 * MiB);
  valve.check();
  assert.equal(valve.underPressure, true);
  state.bytes = 50 * MiB; // between the marks: still refusing
  valve.check();
  assert.equal(valve.underPressure, true);
  state.bytes = 47 * MiB;
  valve.check();
  assert.equal(valve.underPressure, false);
  state.bytes = 56 * MiB;
  valve.check();
  valve.close();
  assert.equal(valve.underPressure, false, "a closed valve refuses nothing");
});

Deno.test("a process whose memory cannot be read is left as it is", () => {
  let trims = 0;
  const valve = new MemoryValve(LIMITS, { anonymousBytes: () => undefined, trim: () => trims++ });
  valve.check();
  assert.equal(trims, 0);
  assert.equal(valve.underPressure, false);
  assert.equal(valve.lastBytes, undefined);
});
