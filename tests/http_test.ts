import assert from "node:assert/strict";
import { PROTOCOL_3, rawRequest, startRelay, tempDir } from "./_helpers.ts";

Deno.test("health answers the documented shape in store-and-forward mode", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const response = await fetch(`${relay.url}/health`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-vaultmesh-protocol"), "3");
  assert.equal(
    await response.text(),
    '{"status":"ok","protocol":"vaultmesh-relay-3","mode":"store-and-forward","buffering":"enabled"}',
  );
});

Deno.test("health answers the documented shape in stateless mode", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless" });
  const response = await fetch(`${relay.url}/health`);
  assert.equal(
    await response.text(),
    '{"status":"ok","protocol":"vaultmesh-relay-3","mode":"stateless","buffering":"disabled"}',
  );
});

Deno.test("routes under /v3/ answer 426 without the protocol-3 header", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  for (const headers of [{}, { "x-vaultmesh-protocol": "2" }]) {
    const response = await fetch(`${relay.url}/v3/vaults/x/envelopes`, { headers });
    assert.equal(response.status, 426);
    assert.equal(response.headers.get("x-vaultmesh-protocol"), "3");
    const body = await response.json();
    assert.equal(body.error, "protocol_mismatch");
    assert.equal(body.supported, 3);
    assert.match(body.message, /protocol 3/);
  }
});

Deno.test("unknown routes get a JSON 404 and wrong methods a JSON 405 with Allow", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const missing = await fetch(`${relay.url}/nope`, { headers: PROTOCOL_3 });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "not_found");
  assert.equal(missing.headers.get("x-vaultmesh-protocol"), "3");

  const wrong = await fetch(`${relay.url}/health`, { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET, OPTIONS");
  assert.equal((await wrong.json()).error, "method_not_allowed");
});

Deno.test("CORS preflight is answered for the API", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const response = await fetch(`${relay.url}/health`, {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "GET" },
  });
  await response.body?.cancel();
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.match(response.headers.get("access-control-allow-headers")!, /signature-input/);
});

Deno.test("malformed Host headers and half-made upgrades get a 400 JSON error, never a 500", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const vault = "A".repeat(42) + "E";
  const cases = [
    "GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: a b\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: x:99999\r\n\r\n",
    `GET /v3/vaults/${vault}/socket?device=a HTTP/1.1\r\nHost: relay\r\n` +
    "X-VaultMesh-Protocol: 3\r\nUpgrade: websocket\r\n\r\n",
  ];
  for (const request of cases) {
    const { status, body } = await rawRequest(relay.url, request);
    assert.ok(status >= 400 && status < 500, `${JSON.stringify(request)} answered ${status}`);
    assert.match(body, /"error":"[a-z_]+"/, JSON.stringify(request));
  }
});
