import assert from "node:assert/strict";
import { backlogPageBytes } from "./delivery.ts";

const KiB = 1024;
const limits = { highWaterBytes: 512 * KiB, pumpPageBytes: 1024 * KiB };

Deno.test("a lone reader's backlog pages hold twice its mark, within the page budget", () => {
  assert.equal(backlogPageBytes(limits, 512 * KiB), 1024 * KiB);
  assert.equal(backlogPageBytes({ ...limits, pumpPageBytes: 256 * KiB }, 512 * KiB), 256 * KiB);
});

Deno.test("readers that share their vault's queue budget get backlog pages of their share", () => {
  // 31 readers and a sender on one vault's 2 MiB: 64 KiB each.
  assert.equal(backlogPageBytes(limits, 64 * KiB), 64 * KiB);
  assert.equal(backlogPageBytes(limits, 256 * KiB), 256 * KiB);
});
