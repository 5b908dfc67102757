/**
 * Test helper: runs `work`, asserts it throws a {@linkcode ProtocolError} with `code`, and
 * returns the error for further checks (status, message, details).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ErrorCode, ProtocolError } from "./errors.ts";

/** Asserts `work` throws a ProtocolError with `code`; returns it. */
export function assertRefused(work: () => unknown, code: ErrorCode): ProtocolError {
  let caught: unknown;
  try {
    work();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError, got ${caught}`);
  assert.equal(caught.code, code);
  return caught;
}
