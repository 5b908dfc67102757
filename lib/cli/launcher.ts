/**
 * Notices when the task runner that started the relay is gone, so the relay does not run on as an
 * orphan that nobody stops.
 *
 * `deno task start` runs the relay as its child and forwards the signals it receives; if the task
 * runner itself is killed outright (SIGKILL from an IDE or a supervisor) the relay is re-parented
 * and would keep running unnoticed. Deno gives a process no way to watch anything but its own
 * parent (`Deno.ppid`; reading `/proc` needs `--allow-all`), so this watch stops the relay when its
 * parent changes. It runs only when a task runner started the relay (`INIT_CWD` is set by
 * `deno task` and npm), never for the binary under a service manager or `nohup`, where outliving
 * the starting shell is the point.
 *
 * What it cannot see: a SIGTERM sent to the `npx` process alone. npm forwards it to its `sh -c`,
 * which dies without passing it on, so `deno task` (the relay's parent) lives on. That is why a
 * service manager must run the binary or `deno run` directly (README, "Stopping").
 *
 * @module
 */

/** How often the parent is looked at. */
export const LAUNCHER_POLL_MS = 1000;

/** Options of {@linkcode watchLauncher}. */
export interface LauncherWatchOptions {
  /** Called once, with a sentence saying what went away. */
  readonly onGone: (reason: string) => void;
  /** The process environment, which tells how the relay was started. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds between looks; defaults to {@linkcode LAUNCHER_POLL_MS}. */
  readonly intervalMs?: number;
}

/**
 * Calls `onGone` once when the task runner that started this process exits. Does nothing when no
 * task runner started it. The timer never keeps the process alive; disposing stops the watch.
 *
 * @example
 * ```ts
 * watchLauncher({ env: Deno.env.toObject(), onGone: (reason) => stop(reason) });
 * ```
 */
export function watchLauncher(options: LauncherWatchOptions): Disposable {
  if (options.env.INIT_CWD === undefined) return { [Symbol.dispose]: () => {} };
  const parent = Deno.ppid;
  const timer = setInterval(() => {
    if (Deno.ppid === parent) return;
    clearInterval(timer);
    options.onGone(`The task runner that started the relay (pid ${parent}) exited`);
  }, options.intervalMs ?? LAUNCHER_POLL_MS);
  Deno.unrefTimer(timer);
  return { [Symbol.dispose]: () => clearInterval(timer) };
}
