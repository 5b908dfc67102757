import assert from "node:assert/strict";
import { watchLauncher } from "./launcher.ts";

Deno.test("the launcher watch does nothing when no task runner started the process", () => {
  using _watch = watchLauncher({ env: {}, onGone: () => assert.fail("not watching") });
});

Deno.test("the launcher watch stays quiet while the parent lives", async () => {
  using _watch = watchLauncher({
    env: { INIT_CWD: "/" },
    intervalMs: 10,
    onGone: () => assert.fail("the test runner is alive"),
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
});
