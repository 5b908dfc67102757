/**
 * The `/health` prober's own thread (see `healthProbe` in `_abuse_net.ts`): an attack keeps
 * the bench's main event loop busy with thousands of connections, and a prober sharing that loop
 * would time its own queueing, not the relay.
 *
 * @module
 */
import { freshHealth } from "./_abuse_net.ts";

interface Start {
  readonly port: number;
  readonly everyMs: number;
  readonly timeoutMs: number;
}

const self = globalThis as unknown as {
  onmessage: ((event: MessageEvent<Start | "stop">) => void) | null;
  postMessage(message: unknown): void;
};

const latencies: number[] = [];
let failures = 0;
/** Why probes failed: `timeout`, a connect error, `closed`, or the status answered. */
const failureKinds: Record<string, number> = {};
const pending = new Set<Promise<void>>();
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = async (event) => {
  if (event.data !== "stop") {
    const { port, everyMs, timeoutMs } = event.data;
    timer = setInterval(() => {
      const probe = freshHealth(port, { timeoutMs }).then((answer) => {
        if (answer.status === 200) latencies.push(answer.ms);
        else {
          failures++;
          latencies.push(Math.max(answer.ms, timeoutMs));
          const kind = answer.status ? `${answer.status}` : answer.failure ?? "closed";
          failureKinds[kind] = (failureKinds[kind] ?? 0) + 1;
        }
      });
      pending.add(probe);
      void probe.finally(() => pending.delete(probe));
    }, everyMs);
    return;
  }
  clearInterval(timer);
  await Promise.all(pending);
  self.postMessage({ latencies, failures, failureKinds });
};
