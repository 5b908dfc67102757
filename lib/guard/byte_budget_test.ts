import assert from "node:assert/strict";
import { ByteBudget } from "./byte_budget.ts";
import { ProtocolError } from "../protocol/errors.ts";

Deno.test("a byte budget refuses what does not fit with 503 busy and frees what a hold took", () => {
  let refused = 0;
  const budget = new ByteBudget(100, () => refused++);
  const first = budget.hold();
  first.take(60);
  const second = budget.hold();
  assert.throws(() => second.take(50), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "busy");
    assert.equal(error.retryAfter, 1);
    return true;
  });
  assert.equal(refused, 1);
  second.take(40);
  assert.equal(budget.used, 100);
  first.release();
  first.release();
  assert.equal(budget.used, 40, "releasing twice gives back once");
  second.release();
  assert.equal(budget.used, 0);
});
