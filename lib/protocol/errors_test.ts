import assert from "node:assert/strict";
import { ERROR_STATUS, type ErrorCode, ProtocolError } from "./errors.ts";

const CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

Deno.test("every error code has an HTTP client or server error status, or 0 for sockets only", () => {
  for (const code of CODES) {
    const status = ERROR_STATUS[code];
    assert.ok(status === 0 || (status >= 400 && status <= 599), `${code}: ${status}`);
  }
});

Deno.test("the socket-only codes are those of the handshake and of frames", () => {
  const socketOnly = CODES.filter((code) => ERROR_STATUS[code] === 0).sort();
  assert.deepEqual(socketOnly, ["auth_failed", "bad_frame", "bad_message", "too_many_sockets"]);
});

Deno.test("error codes are snake_case", () => {
  for (const code of CODES) assert.match(code, /^[a-z]+(_[a-z0-9]+)*$/);
});

Deno.test("a protocol error's status is its code's status", () => {
  for (const code of CODES) {
    assert.equal(new ProtocolError(code, "message").status, ERROR_STATUS[code], code);
  }
  assert.equal(new ProtocolError("buffer_full", "full").status, 507);
  assert.equal(new ProtocolError("too_many_sockets", "full").status, 0);
});

Deno.test("a protocol error carries its code, message and options, with empty defaults", () => {
  const plain = new ProtocolError("not_found", "No such endpoint");
  assert.ok(plain instanceof Error);
  assert.equal(plain.name, "ProtocolError");
  assert.equal(plain.code, "not_found");
  assert.equal(plain.message, "No such endpoint");
  assert.deepEqual(plain.details, {});
  assert.deepEqual(plain.headers, {});
  assert.equal(plain.retryAfter, undefined);

  const full = new ProtocolError("rate_limited", "Slow down", {
    details: { scope: "vault" },
    retryAfter: 3,
    headers: { allow: "GET" },
  });
  assert.deepEqual(full.details, { scope: "vault" });
  assert.equal(full.retryAfter, 3);
  assert.deepEqual(full.headers, { allow: "GET" });
});
