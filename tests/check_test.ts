import assert from "node:assert/strict";
import { runCheck } from "../lib/cli/check.ts";
import { parseCommand } from "../lib/config/mod.ts";
import { freePort, relayCommand } from "../scripts/relay_process.ts";
import { startRelay, tempDir } from "./_helpers.ts";

/** A server that looks like a relay from afar but answers /health with the wrong shape. */
function brokenRelay(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    handler: () => Response.json({ status: "ok" }, { headers: { "x-vaultmesh-protocol": "3" } }),
  });
}

async function check(url: string): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  const ok = await runCheck(url, { print: (line) => lines.push(line) });
  return { ok, lines };
}

Deno.test("check parses as a subcommand with exactly one http(s) URL", () => {
  assert.deepEqual(parseCommand(["check", "https://relay.example.org"], {}), {
    kind: "check",
    url: "https://relay.example.org/",
  });
  for (const bad of [[], ["ftp://x"], ["not a url"], ["https://a", "https://b"]]) {
    assert.throws(
      () => parseCommand(["check", ...bad], {}),
      /usage is vaultmesh-relay check <url>/,
    );
  }
});

Deno.test("check without a scheme exits 2 and says to add https://", async () => {
  const output = await relayCommand(["check", "relay.example.org"]).output();
  assert.equal(output.code, 2);
  assert.equal(
    new TextDecoder().decode(output.stderr),
    'vaultmesh-relay: Cannot check "relay.example.org": the URL lacks its scheme; add https:// ' +
      "(http:// for a relay without TLS), e.g. vaultmesh-relay check https://relay.example.org\n",
  );
});

Deno.test("check passes every step against a live store-and-forward relay", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const { ok, lines } = await check(relay.url);
  assert.deepEqual(lines, [
    "PASS health and protocol",
    "SKIP tls: the URL is http://; devices need https:// through a TLS proxy",
    "PASS send and backlog on a throwaway vault",
    "PASS ack",
    "PASS socket session (challenge, live envelope, ack)",
    "PASS purge",
  ]);
  assert.ok(ok);
  assert.equal(relay.mode.totals().envelopes, 0, "the throwaway vault was purged");
});

Deno.test("check passes against a live stateless relay with a waiting device", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless" });
  const { ok, lines } = await check(relay.url);
  assert.ok(ok, lines.join("\n"));
});

Deno.test("check fails the health step against a server with the wrong /health shape", async () => {
  await using server = brokenRelay();
  const { ok, lines } = await check(`http://127.0.0.1:${server.addr.port}`);
  assert.equal(ok, false);
  assert.match(
    lines[0]!,
    /^FAIL health and protocol: GET \/health answered "\{\\"status\\":\\"ok\\"\}"/,
  );
  assert.equal(lines.length, 2, "later steps do not run");
});

Deno.test("check fails when nothing listens", async () => {
  const { ok, lines } = await check(`http://127.0.0.1:${freePort()}`);
  assert.equal(ok, false);
  assert.match(lines[0]!, /^FAIL health and protocol: .*(refused|connect)/i);
});

Deno.test("vaultmesh-relay check exits 0 against a relay and 1 against a broken one", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  await using broken = brokenRelay();
  const good = await relayCommand(["check", relay.url]).output();
  assert.equal(good.code, 0, new TextDecoder().decode(good.stderr));
  assert.match(new TextDecoder().decode(good.stdout), /^PASS health and protocol$/m);
  const bad = await relayCommand(["check", `http://127.0.0.1:${broken.addr.port}`]).output();
  assert.equal(bad.code, 1);
  assert.match(new TextDecoder().decode(bad.stdout), /^FAIL health and protocol: /m);
});

Deno.test("check reports a relay whose --public-url names another host than the URL checked", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { publicUrl: new URL("https://relay.example") });
  const { ok, lines } = await check(relay.url);
  assert.equal(ok, false);
  assert.ok(lines.includes("PASS health and protocol"), lines.join("\n"));
  assert.ok(
    lines.some((line) => /^FAIL send .*This relay is relay\.example/.test(line)),
    lines.join("\n"),
  );
});
