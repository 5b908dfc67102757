import assert from "node:assert/strict";
import { closingAnswer, readUpgradeRequest } from "./upgrade_head.ts";

const UPGRADE = "GET /v3/vaults/abc/socket?device=laptop HTTP/1.1\r\nHost: relay.example:8080\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: a2V5\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("an upgrade head becomes a Request, with the bytes after it kept", () => {
  const read = readUpgradeRequest(new Uint8Array([...encode(UPGRADE), 0x81, 0x80]))!;
  assert.equal(read.request.method, "GET");
  assert.equal(read.request.url, "http://relay.example:8080/v3/vaults/abc/socket?device=laptop");
  assert.equal(read.request.headers.get("sec-websocket-key"), "a2V5");
  assert.equal(read.request.headers.get("connection"), "Upgrade");
  assert.deepEqual([...read.rest], [0x81, 0x80]);
});

Deno.test("anything but a plain upgrade head is left to the HTTP server", () => {
  const cases = {
    "another method": UPGRADE.replace("GET", "POST"),
    "HTTP/1.0": UPGRADE.replace("HTTP/1.1", "HTTP/1.0"),
    "an absolute target": UPGRADE.replace("GET /", "GET http://x/"),
    "no upgrade": UPGRADE.replace("Upgrade: websocket\r\n", ""),
    "another upgrade": UPGRADE.replace("websocket", "h2c"),
    "no host": UPGRADE.replace("Host: relay.example:8080\r\n", ""),
    "two hosts": UPGRADE.replace("Host:", "Host: a\r\nHost:"),
    "a malformed host": UPGRADE.replace("relay.example:8080", "[::1"),
    "a host with a space": UPGRADE.replace("relay.example:8080", "a b"),
    "a port out of range": UPGRADE.replace("8080", "99999"),
    "a body": UPGRADE.replace("\r\n\r\n", "\r\nContent-Length: 3\r\n\r\n"),
    "a chunked body": UPGRADE.replace("\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "a folded header": UPGRADE.replace("Connection:", " folded\r\nConnection:"),
    "a bad field name": UPGRADE.replace("Connection:", "Conn ection:"),
    "no end of head": UPGRADE.slice(0, -2),
  };
  for (const [name, head] of Object.entries(cases)) {
    assert.equal(readUpgradeRequest(encode(head)), undefined, name);
  }
});

Deno.test("a refusal to an upgrade is written whole and ends the connection", async () => {
  const response = Response.json({ error: "bad_vault" }, {
    status: 400,
    headers: { connection: "keep-alive", "x-vaultmesh-protocol": "3" },
  });
  const text = new TextDecoder().decode(await closingAnswer(response));
  const [head, body] = text.split("\r\n\r\n");
  assert.match(head!, /^HTTP\/1\.1 400 /);
  assert.match(head!, /\r\nx-vaultmesh-protocol: 3\r\n/);
  assert.match(head!, /\r\ncontent-length: 21\r\nconnection: close$/);
  assert.doesNotMatch(head!, /keep-alive/);
  assert.equal(body, '{"error":"bad_vault"}');
});
