import assert from "node:assert/strict";
import { freePort, relayCommand, spawnRelay } from "../scripts/relay_process.ts";
import { tempDir } from "./_helpers.ts";
import { waitFor } from "./_p2p.ts";

Deno.test("the relay process prints its libp2p multiaddr with the peer id at start", async () => {
  using dir = tempDir();
  const port = freePort();
  await using relay = await spawnRelay([
    "--listen",
    "127.0.0.1:0",
    "--db",
    `${dir.path}/relay.db`,
    "--p2p-port",
    String(port),
    "--p2p-listen",
    "127.0.0.1",
  ]);
  await waitFor("the p2p address line", () => relay.lines.some((l) => l.includes("p2p addr")));
  const line = relay.lines.find((l) => l.includes("p2p addr"))!;
  assert.match(line, new RegExp(`/ip4/127\\.0\\.0\\.1/tcp/${port}/p2p/12D3KooW\\w+$`));
  const status = await relay.stop("SIGTERM");
  assert.equal(status.code, 0);
  assert.ok(relay.lines.some((l) => l.includes("libp2p relay stopped")));
});

Deno.test("the relay process exits 1 with one clear line when the p2p port is taken", async () => {
  using dir = tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const output = await relayCommand([
    "--listen",
    "127.0.0.1:0",
    "--db",
    `${dir.path}/relay.db`,
    "--p2p-port",
    String((taken.addr as Deno.NetAddr).port),
  ]).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1);
  assert.match(stderr, /^vaultmesh-relay: Cannot listen for libp2p on port \d+: .*EADDRINUSE/m);
});
