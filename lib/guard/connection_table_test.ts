import assert from "node:assert/strict";
import { ConnectionTable } from "./connection_table.ts";

/** A table holding `counts[address]` connections per address, all past their request head. */
function table(counts: Record<string, number>) {
  const connections = new ConnectionTable<{ address: string; name: string }>();
  for (const [address, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i++) {
      const connection = { address, name: `${address}#${i}` };
      connections.add(connection);
      connections.waiting.delete(connection); // its request is in flight
    }
  }
  return connections;
}

Deno.test("connection table drops from the address holding the most, oldest first", () => {
  const connections = table({ "192.0.2.1": 3, "192.0.2.2": 1 });
  assert.equal(connections.victim("192.0.2.9", true)?.name, "192.0.2.1#0");
  assert.equal(connections.victim("192.0.2.2", false)?.name, "192.0.2.1#0");
});

Deno.test("connection table prefers a crowded address's waiting connection, then its unauthenticated socket", () => {
  const connections = table({ "192.0.2.1": 3 });
  const [first, second, third] = connections.all();
  connections.unauthenticated.add(second!);
  assert.equal(connections.victim("192.0.2.9", true), second);
  connections.wait(third!);
  assert.equal(connections.victim("192.0.2.9", true), third);
  assert.notEqual(connections.victim("192.0.2.9", true), first);
});

Deno.test("connection table does not drop an equal peer's request or socket for a newcomer", () => {
  const connections = table({ "192.0.2.1": 1, "192.0.2.2": 1 });
  assert.equal(connections.victim("192.0.2.9", true), undefined);
  assert.equal(connections.victim("192.0.2.1", false), undefined, "nor its own request in flight");
});

Deno.test("connection table lets a newcomer replace the oldest waiting connection among equals", () => {
  const connections = table({ "192.0.2.1": 1, "192.0.2.2": 1, "192.0.2.3": 1 });
  const [, second, third] = connections.all();
  connections.wait(third!);
  connections.wait(second!);
  assert.equal(connections.victim("192.0.2.9", true), third, "idle keep-alives go first");
  connections.waiting.clear();
  connections.unauthenticated.add(second!);
  assert.equal(connections.victim("192.0.2.9", true), second, "then unauthenticated sockets");
});

Deno.test("connection table never lets a crowded address push out a lone client's waiting connection", () => {
  const connections = table({ "192.0.2.9": 1, "192.0.2.1": 2, "192.0.2.2": 2 });
  const [lone, crowded] = connections.all();
  connections.wait(lone!);
  connections.wait(crowded!);
  assert.equal(connections.victim("192.0.2.1", true), crowded, "a peer as crowded goes first");
  connections.waiting.delete(crowded!);
  assert.equal(connections.victim("192.0.2.1", true), undefined, "not the lone client");
});

Deno.test("connection table lets one address replace its own waiting connections, never its requests", () => {
  const connections = table({ "192.0.2.1": 2 });
  assert.equal(connections.victim("192.0.2.1", true), undefined);
  const [first] = connections.all();
  connections.wait(first!);
  assert.equal(connections.victim("192.0.2.1", true), first);
});

Deno.test("connection table forgets removed connections and empty addresses", () => {
  const connections = table({ "192.0.2.1": 2, "192.0.2.2": 1 });
  for (const connection of connections.all()) {
    if (connection.address === "192.0.2.1") connections.remove(connection);
  }
  assert.equal(connections.size, 1);
  assert.equal(connections.victim("192.0.2.9", true), undefined);
});

Deno.test("connection table takes a newcomer's room from the most crowded address, not the oldest waiting one", () => {
  // Many addresses hold a few each (none more than the newcomer's would): a lone client's fresh
  // connection waits for its head, and so does one of a crowded address.
  const connections = table({ "192.0.2.9": 1, "192.0.2.1": 2, "192.0.2.2": 2, "192.0.2.3": 1 });
  const [lone, , , crowded] = connections.all();
  connections.wait(lone!);
  connections.wait(crowded!);
  assert.equal(connections.victim("192.0.2.3", true), crowded);
  connections.waiting.delete(crowded!);
  assert.equal(
    connections.victim("192.0.2.3", true),
    lone,
    "with nothing else waiting, the lone client's connection is the only one that can go",
  );
});
