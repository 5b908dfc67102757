import assert from "node:assert/strict";
import { LongPolls } from "./long_polls.ts";
import { ProtocolError } from "../protocol/errors.ts";

function refusedWith(work: () => unknown, scope: string): boolean {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "too_many_in_flight");
    assert.equal(error.details.scope, scope);
    return true;
  }
  return false;
}

Deno.test("long polls beyond an address's or a vault's share are refused", () => {
  const polls = new LongPolls({ perAddress: 2, perVault: 3, total: 100 });
  const wake = () => {};
  polls.enter({ address: "a", vault: "v1", wake });
  polls.enter({ address: "a", vault: "v2", wake });
  assert.ok(
    refusedWith(() => polls.enter({ address: "a", vault: "v3", wake }), "long_polls_per_address"),
  );
  polls.enter({ address: "b", vault: "v1", wake });
  polls.enter({ address: "c", vault: "v1", wake });
  assert.ok(
    refusedWith(() => polls.enter({ address: "d", vault: "v1", wake }), "long_polls_per_vault"),
  );
  assert.equal(polls.size, 4);
});

Deno.test("at the total the oldest waiting poll is answered early to make room", () => {
  const polls = new LongPolls({ perAddress: 10, perVault: 10, total: 2 });
  const woken: string[] = [];
  const enter = (name: string) =>
    polls.enter({ address: name, vault: name, wake: () => woken.push(name) });
  enter("first");
  const leaveSecond = enter("second");
  enter("third");
  assert.deepEqual(woken, ["first"]);
  assert.equal(polls.size, 2);
  leaveSecond();
  leaveSecond();
  assert.equal(polls.size, 1, "leaving twice counts once");
  enter("fourth");
  assert.deepEqual(woken, ["first"], "room was free: nobody woken");
});
