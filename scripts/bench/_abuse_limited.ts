/**
 * Started by the abuse scenario as `prlimit --nofile=N:N deno run -A _abuse_limited.ts <flags>`:
 * spawns the relay with {@linkcode spawnRelay} (so it inherits the lowered open-file limit, as
 * if started under prlimit itself) and reports on stdout, one JSON object a line: `{url, pid}`
 * once listening, `{line}` for each log line, `{code, signal}` when the relay exits. Closing its
 * stdin stops the relay; it exits when the relay does.
 *
 * @module
 */
import { spawnRelay } from "../relay_process.ts";

if (import.meta.main) {
  const relay = await spawnRelay(Deno.args);
  const say = (message: unknown) => console.log(JSON.stringify(message));
  say({ url: relay.url, pid: relay.child.pid });
  let forwarded = 0;
  const forward = () => {
    while (forwarded < relay.lines.length) say({ line: relay.lines[forwarded++] });
  };
  const timer = setInterval(forward, 100);
  (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Only the end of stdin matters.
    }
    await relay.stop("SIGKILL");
  })();
  const status = await relay.child.status;
  clearInterval(timer);
  forward();
  say({ code: status.code, signal: status.signal });
  Deno.exit(0);
}
