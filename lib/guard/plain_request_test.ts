import assert from "node:assert/strict";
import { answerBytes, readPlainHead } from "./plain_request.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder("latin1").decode(data);

Deno.test("a plain head becomes method, URL and headers, with the bytes after it kept", () => {
  const head = readPlainHead(bytes(
    "POST /v3/vaults/abc/envelopes?x=1 HTTP/1.1\r\nHost: relay.example:8080\r\n" +
      "Content-Length: 5\r\nX-VaultMesh-Device: laptop\r\n\r\nhelloGET /health",
  ));
  assert.ok(head);
  assert.equal(head.method, "POST");
  assert.equal(head.url.href, "http://relay.example:8080/v3/vaults/abc/envelopes?x=1");
  assert.equal(head.fields["x-vaultmesh-device"], "laptop", "names in lower case");
  assert.equal(head.bodyLength, 5);
  assert.equal(head.close, false);
  assert.equal(text(head.rest), "helloGET /health");
  const closing = readPlainHead(
    bytes("GET / HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, Close\r\n\r\n"),
  );
  assert.equal(closing?.close, true);
  assert.equal(closing?.bodyLength, 0);
});

Deno.test("a head's fields: values without the spaces around them, repeats joined, names that are Object's own kept", () => {
  const head = readPlainHead(bytes(
    "GET / HTTP/1.1\r\nhost: a\r\nAccept: \t text/plain \r\naccept: text/html\r\n" +
      "constructor: x\r\n__proto__: y\r\nx-empty:\r\n\r\n",
  ));
  assert.ok(head);
  assert.equal(head.fields.accept, "text/plain, text/html");
  assert.equal(head.fields.constructor, "x");
  assert.equal(head.fields["__proto__"], "y");
  assert.equal(head.fields["x-empty"], "");
  assert.equal(head.fields["toString"], undefined);
  const request = new Request(head.url, { headers: head.fields });
  assert.equal(request.headers.get("accept"), "text/plain, text/html");
  assert.equal(request.headers.get("__proto__"), "y");
});

Deno.test("anything but a plain head is left to the HTTP server", () => {
  const cases = {
    "no end of head yet": "GET / HTTP/1.1\r\nhost: a\r\n",
    "HTTP/1.0": "GET / HTTP/1.0\r\nhost: a\r\n\r\n",
    "absolute form": "GET http://a/ HTTP/1.1\r\nhost: a\r\n\r\n",
    "no Host": "GET / HTTP/1.1\r\n\r\n",
    "two Hosts": "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
    "a Host that is no host": "GET / HTTP/1.1\r\nhost: [::1\r\n\r\n",
    "a chunked body": "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n",
    "Expect: 100-continue":
      "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 9\r\nexpect: 100-continue\r\n\r\n",
    "an upgrade": "GET / HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\n\r\n",
    "a length that is not a number": "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1e3\r\n\r\n",
    "two lengths": "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
    "a GET with a body": "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nabc",
    "a folded header": "GET / HTTP/1.1\r\nhost: a\r\nx: 1\r\n 2\r\n\r\n",
    "a bad field name": "GET / HTTP/1.1\r\nhost: a\r\nx y: 1\r\n\r\n",
    "a NUL in a value": "GET / HTTP/1.1\r\nhost: a\r\nx: 1\u00002\r\n\r\n",
    "a method that is no token": "G(T / HTTP/1.1\r\nhost: a\r\n\r\n",
  };
  for (const [what, head] of Object.entries(cases)) {
    assert.equal(readPlainHead(bytes(head)), undefined, what);
  }
});

Deno.test("an answer is written with its length and a date, its body left out for HEAD", async () => {
  const response = () =>
    new Response('{"ok":true}', {
      status: 200,
      headers: { "content-type": "application/json", "connection": "keep-alive" },
    });
  const get = text(await answerBytes(response(), { method: "GET", close: false }));
  assert.match(get, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(get, /\r\ncontent-type: application\/json\r\n/);
  assert.match(get, /\r\ndate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  assert.match(get, /\r\ncontent-length: 11\r\n\r\n\{"ok":true\}$/);
  assert.doesNotMatch(get, /connection:/i, "the handler's own Connection is not passed on");
  const head = text(await answerBytes(response(), { method: "HEAD", close: true }));
  assert.match(head, /\r\ncontent-length: 11\r\nconnection: close\r\n\r\n$/);
  const empty = text(
    await answerBytes(new Response(null, { status: 204 }), {
      method: "DELETE",
      close: false,
    }),
  );
  assert.doesNotMatch(empty, /content-length/, "a 204 has no body and says no length");
});
