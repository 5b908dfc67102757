/**
 * Headless Chromium for tests: where it is, and how to run it on this closed network.
 *
 * @module
 */

/** The Chromium binary on PATH, or undefined (tests then skip with this reason). */
export const CHROMIUM: string | undefined = ["chromium", "chromium-browser", "google-chrome"]
  .find((name) => {
    try {
      return new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      return false;
    }
  });

/** Why a Chromium test is skipped, for its name. */
export const NO_CHROMIUM = " (skipped: no chromium on PATH; .ci/run installs it)";

/** Flags that keep headless Chromium from reaching out to the network it cannot reach. */
function flags(profile: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
  ];
}

/**
 * Chromium's environment: its temporary files (the singleton socket's folder) go into the profile,
 * which the test removes, instead of being left in /tmp when Chromium is killed.
 */
function env(profile: string): Record<string, string> {
  return { TMPDIR: profile };
}

/** Runs Chromium to completion (e.g. `--screenshot`, `--dump-dom`) with a fresh profile. */
export async function runChromium(args: string[], profile: string): Promise<Deno.CommandOutput> {
  return await new Deno.Command(CHROMIUM!, {
    args: [...flags(profile), ...args],
    env: env(profile),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
}

/** Starts Chromium on `url` and leaves it running; kill it when done. */
export function spawnChromium(url: string, profile: string): Deno.ChildProcess {
  return new Deno.Command(CHROMIUM!, {
    args: [...flags(profile), "--remote-debugging-port=0", url],
    env: env(profile),
    stdout: "null",
    stderr: "null",
  }).spawn();
}
