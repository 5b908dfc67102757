import assert from "node:assert/strict";
import { ByteBudget } from "./byte_budget.ts";
import { ProtocolError } from "../protocol/errors.ts";

Deno.test("a byte budget refuses what does not fit with 503 busy and frees what a hold took", () => {
  let refused = 0;
  const budget = new ByteBudget(100, { onRefused: () => refused++ });
  // Four addresses, each with its quarter: 25 bytes.
  const first = budget.hold("a");
  first.take(25);
  const second = budget.hold("b");
  assert.throws(() => second.take(26), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "busy");
    assert.equal(error.retryAfter, 1);
    return true;
  });
  assert.equal(refused, 1);
  second.take(25);
  budget.hold("c").take(25);
  budget.hold("d").take(25);
  assert.throws(() => budget.hold("e").take(1), /limit of request bytes in memory;/);
  assert.equal(budget.used, 100);
  first.release();
  first.release();
  assert.equal(budget.used, 75, "releasing twice gives back once");
  second.release();
  assert.equal(budget.used, 50);
});

Deno.test("one address cannot hold more than its quarter while others still can", () => {
  const budget = new ByteBudget(100);
  const flooder = budget.hold("flooder");
  flooder.take(25);
  assert.throws(() => budget.hold("flooder").take(1), /for this address/);
  budget.hold("honest").take(25);
  assert.equal(budget.used, 50);
});

Deno.test("a share per address set above a quarter lets one address hold that much, no more", () => {
  // A small budget still lets one client send its largest envelope.
  const budget = new ByteBudget(100, { perAddress: 60 });
  budget.hold("a").take(60);
  assert.throws(() => budget.hold("a").take(1), /for this address/);
  assert.throws(() => budget.hold("b").take(41), /limit of request bytes in memory;/);
  budget.hold("b").take(40);
  assert.equal(new ByteBudget(100, { perAddress: 500 }).perAddress, 100, "never above the whole");
});

Deno.test("while the process is short of memory nothing more fits, and then it does again", () => {
  let short = true;
  let refused = 0;
  const budget = new ByteBudget(100, { underPressure: () => short, onRefused: () => refused++ });
  const hold = budget.hold("a");
  assert.throws(() => hold.take(1), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "busy");
    assert.equal(error.retryAfter, 1);
    assert.match(error.message, /short of memory/);
    return true;
  });
  assert.equal(budget.refusal(1)?.code, "busy", "the gate's early refusal says the same");
  assert.equal(refused, 1);
  short = false;
  hold.take(1);
  assert.equal(budget.used, 1);
});
