import assert from "node:assert/strict";
import { ProtocolError } from "../protocol/errors.ts";
import { errorAnswerBytes, errorResponse } from "./errors.ts";

Deno.test("the gate's raw error answer carries what the router's Response does, and closes", async () => {
  const error = new ProtocolError("busy", "The relay is busy; retry shortly", { retryAfter: 1 });
  const text = new TextDecoder().decode(errorAnswerBytes(error));
  const [head, body] = text.split("\r\n\r\n") as [string, string];
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = new Headers(lines.map((line) => line.split(": ", 2) as [string, string]));
  const response = errorResponse(error);

  assert.equal(statusLine, "HTTP/1.1 503 Service Unavailable");
  assert.equal(body, await response.text());
  assert.equal(headers.get("content-length"), String(new TextEncoder().encode(body).length));
  assert.equal(headers.get("connection"), "close");
  for (const name of ["content-type", "retry-after"]) {
    assert.equal(headers.get(name), response.headers.get(name), name);
  }
});
