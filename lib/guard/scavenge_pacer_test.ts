import assert from "node:assert/strict";
import { ScavengePacer } from "./scavenge_pacer.ts";

Deno.test("a scavenge pacer collects once everyBytes were made since the last collection", () => {
  let collected = 0;
  let reported = 0;
  const pacer = new ScavengePacer();
  pacer.configure(1000, { scavenge: () => collected++, onScavenged: () => reported++ });
  for (let i = 0; i < 25; i++) pacer.made(100);
  assert.equal(collected, 2, "after 1000 and 2000 of 2500 bytes");
  pacer.made(5000);
  assert.equal(collected, 3, "one large buffer is one collection");
  assert.deepEqual([pacer.scavenges, reported], [3, 3]);
});

Deno.test("a scavenge pacer that is not configured, has no pace or no collector does nothing", () => {
  let collected = 0;
  const fresh = new ScavengePacer();
  fresh.made(1e9);
  assert.equal(fresh.isActive, false);
  const noPace = new ScavengePacer();
  noPace.configure(0, { scavenge: () => collected++ });
  noPace.made(1e9);
  const noCollector = new ScavengePacer();
  noCollector.configure(1000, { scavenge: null });
  noCollector.made(1e9);
  assert.equal(collected, 0);
  assert.deepEqual([noPace.isActive, noCollector.isActive, noCollector.scavenges], [
    false,
    false,
    0,
  ]);
});
