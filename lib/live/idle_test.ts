import assert from "node:assert/strict";
import { IdleWatch } from "./idle.ts";

Deno.test("an idle socket is pinged after one period and given up after the next", async () => {
  const events: string[] = [];
  const gaveUp = Promise.withResolvers<void>();
  const watch = new IdleWatch(0.05, {
    ping: () => events.push("ping"),
    timeout: () => {
      events.push("timeout");
      gaveUp.resolve();
    },
  });
  // Waits for the outcome rather than for a time, so a slow machine only makes it slower.
  await gaveUp.promise;
  watch.stop();
  assert.deepEqual(events, ["ping", "timeout"]);
});

Deno.test("a socket that answers is never given up", async () => {
  const events: string[] = [];
  const watch = new IdleWatch(0.05, {
    ping: () => {
      events.push("ping");
      watch.heard();
    },
    timeout: () => events.push("timeout"),
  });
  await new Promise((resolve) => setTimeout(resolve, 250));
  watch.stop();
  assert.ok(events.includes("ping"));
  assert.ok(!events.includes("timeout"), "it answered each ping");
});

Deno.test("an idle watch of 0 seconds never fires", async () => {
  const events: string[] = [];
  const watch = new IdleWatch(0, { ping: () => events.push("ping"), timeout: () => {} });
  await new Promise((resolve) => setTimeout(resolve, 30));
  watch.stop();
  assert.deepEqual(events, []);
});
