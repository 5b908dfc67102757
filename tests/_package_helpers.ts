/**
 * Fixtures for the packaging tests: running commands, and a stand-in file for the compiled relay
 * that exists only inside tests to exercise the archive layout (never shipped).
 *
 * @module
 */
import { join } from "node:path";
import { findExecutable } from "../scripts/package/macho.ts";

/** Output of a finished command. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion. */
export async function run(
  command: string,
  options: { args: string[]; cwd?: string; env?: Record<string, string>; clearEnv?: boolean },
): Promise<RunResult> {
  const output = await new Deno.Command(command, { ...options, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A tool on `PATH` (also as Debian's `name-NN`), or `undefined`. */
export function tool(name: string): string | undefined {
  return findExecutable(name, Deno.env.get("PATH"));
}

/**
 * Writes the test fixture that stands in for a compiled binary in layout tests: a shell script
 * that says what it is. Never a relay and never part of a release.
 */
export function writeFixtureBinary(dir: string): string {
  const path = join(dir, "test-fixture-not-a-relay");
  Deno.writeTextFileSync(path, "#!/bin/sh\necho 'test fixture, not a relay'\n");
  return path;
}

/** The repository root. */
export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
