import assert from "node:assert/strict";
import { fdBudget, RESERVED_FDS } from "./fd_budget.ts";

Deno.test("the descriptor budget is 80 % of the open-file limit less a reserve, shared with libp2p", () => {
  const budget = fdBudget(10_000, true);
  assert.equal(budget.source, "flag");
  assert.equal(budget.http + budget.p2pConnections, 8000 - RESERVED_FDS);
  assert.equal(budget.p2pConnections, 256, "libp2p's share is capped");
  const small = fdBudget(1024, true);
  assert.equal(small.p2pConnections, Math.floor((819 - RESERVED_FDS) / 4));
});

Deno.test("without p2p the whole budget goes to HTTP connections", () => {
  const budget = fdBudget(1024, false);
  assert.equal(budget.p2pConnections, 0);
  assert.equal(budget.http, 819 - RESERVED_FDS);
});

Deno.test("an unreadable limit is assumed to be 1024 and says so", () => {
  const budget = fdBudget(null, false);
  assert.ok(["process", "assumed"].includes(budget.source));
  if (budget.source === "assumed") assert.equal(budget.limit, 1024);
});
