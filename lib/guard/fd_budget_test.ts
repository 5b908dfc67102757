import assert from "node:assert/strict";
import { fdBudget, RESERVED_FDS } from "./fd_budget.ts";

Deno.test("the descriptor budget is 80 % of the open-file limit less a reserve, shared with libp2p", () => {
  const budget = fdBudget(10_000, { p2p: true });
  assert.equal(budget.source, "flag");
  assert.equal(budget.http + budget.p2pConnections, 8000 - RESERVED_FDS);
  assert.equal(budget.p2pConnections, 256, "libp2p's share is capped");
  const small = fdBudget(1024, { p2p: true });
  assert.equal(small.p2pConnections, Math.floor((819 - RESERVED_FDS) / 4));
});

Deno.test("without p2p the whole budget goes to HTTP connections", () => {
  const budget = fdBudget(1024, { p2p: false });
  assert.equal(budget.p2pConnections, 0);
  assert.equal(budget.http, 819 - RESERVED_FDS);
});

Deno.test("without --max-open-files the process's limit is used, or 1024 when it cannot be read", () => {
  const read = fdBudget(null, { p2p: false, readLimit: () => 4096 });
  assert.deepEqual([read.limit, read.source], [4096, "process"]);
  const assumed = fdBudget(null, { p2p: false, readLimit: () => undefined });
  assert.deepEqual([assumed.limit, assumed.source], [1024, "assumed"]);
  assert.equal(assumed.http, 819 - RESERVED_FDS);
});
