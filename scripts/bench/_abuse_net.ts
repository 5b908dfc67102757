/**
 * Raw network pieces of the abuse scenario: TCP connections from a chosen loopback source address
 * (the relay then sees a different client), one-shot HTTP requests written byte for byte, a
 * `/health` prober on fresh connections, and fetch bound to a source address.
 *
 * Loopback accepts the whole 127/8, so addresses stand for distinct clients:
 * {@linkcode ATTACKER} for one attacking address, {@linkcode HONEST} for an honest client,
 * {@linkcode PROBER} for the `/health` prober, and {@linkcode attackerAddress} for attackers
 * that need many.
 *
 * @module
 */
import net from "node:net";
import { percentile } from "./_load.ts";

/** The one address an attacker uses when an attack comes "from one address". */
export const ATTACKER = "127.0.0.1";
/** The honest client's address. */
export const HONEST = "127.0.0.2";
/** The `/health` prober's address. */
export const PROBER = "127.0.0.3";

/** The i-th of many attacker addresses (127.1.0.0/16), all distinct from the ones above. */
export function attackerAddress(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Buffered bytes above which a connection stops reading from the kernel until read again. */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * A TCP connection read on demand: nothing beyond {@linkcode READ_AHEAD_BYTES} is taken from the
 * kernel until `read()` asks for it, so a connection that is never read makes the relay's writes
 * back up as a real slow reader does.
 */
export class RawConn {
  readonly #socket: net.Socket;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #waiting: PromiseWithResolvers<void> | undefined;
  readonly #closed = Promise.withResolvers<void>();
  /** True once the peer closed, the connection failed, or it was closed here. */
  isClosed = false;
  /** Resolves when the connection is gone, whoever closed it. */
  readonly closed: Promise<void> = this.#closed.promise;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#queue.push(new Uint8Array(chunk));
      this.#queued += chunk.byteLength;
      if (this.#queued > READ_AHEAD_BYTES) socket.pause();
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#ended = true;
      this.isClosed = true;
      this.#wake();
      this.#closed.resolve();
    });
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve();
  }

  /**
   * Connects to `127.0.0.1:port` from `localAddress` (default {@linkcode ATTACKER}); rejects
   * after `timeoutMs`.
   */
  static connect(
    options: { port: number; localAddress?: string; timeoutMs?: number },
  ): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: "127.0.0.1",
        port: options.port,
        localAddress: options.localAddress ?? ATTACKER,
      });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("Connect timed out"));
      }, options.timeoutMs ?? 5000);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new RawConn(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** The next bytes received, or null once the peer closed and everything was read. */
  async read(): Promise<Uint8Array | null> {
    while (this.#queue.length === 0) {
      if (this.#ended) return null;
      this.#waiting = Promise.withResolvers<void>();
      this.#socket.resume();
      await this.#waiting.promise;
    }
    const chunk = this.#queue.shift()!;
    this.#queued -= chunk.byteLength;
    if (this.#queued <= READ_AHEAD_BYTES) this.#socket.resume();
    return chunk;
  }

  /** Writes `bytes`; resolves once the kernel took them (so a full window makes this wait). */
  write(bytes: Uint8Array | string): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error("The connection is closed"));
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  }

  /** Closes the connection at once (RST if data is pending). */
  close(): void {
    this.#socket.destroy();
  }
}

/** An HTTP answer read off a raw connection. */
export interface RawAnswer {
  /** The status code, or undefined when no status line arrived. */
  readonly status: number | undefined;
  /** Milliseconds from connecting to the end of the answer (or the failure). */
  readonly ms: number;
  /** Head and body as text. */
  readonly text: string;
  /** Why there is no status: "timeout", "closed" or the connection error. */
  readonly failure?: string;
}

/**
 * Sends `request` (exact bytes, e.g. with a malformed Host header) on a fresh connection and
 * reads until the relay closes it or `timeoutMs` passes. Send `Connection: close` to get a
 * prompt end.
 */
export async function rawHttp(
  options: {
    port: number;
    request: string | Uint8Array;
    localAddress?: string;
    timeoutMs?: number;
  },
): Promise<RawAnswer> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 5000;
  let conn: RawConn;
  try {
    conn = await RawConn.connect({
      port: options.port,
      timeoutMs,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
  } catch (error) {
    return { status: undefined, ms: performance.now() - started, text: "", failure: String(error) };
  }
  const decoder = new TextDecoder();
  let text = "";
  let failure: string | undefined;
  const timer = setTimeout(() => {
    failure = "timeout";
    conn.close();
  }, Math.max(1, timeoutMs - (performance.now() - started)));
  try {
    await conn.write(options.request);
    for (let chunk = await conn.read(); chunk; chunk = await conn.read()) {
      text += decoder.decode(chunk, { stream: true });
      if (answerComplete(text)) break;
    }
  } catch (error) {
    failure ??= String(error);
  } finally {
    clearTimeout(timer);
    conn.close();
  }
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  return {
    status: status === undefined ? undefined : Number(status),
    ms: performance.now() - started,
    text,
    ...(status === undefined ? { failure: failure ?? "closed" } : {}),
  };
}

/** True once `text` holds a whole answer with a Content-Length (chunked answers end at close). */
function answerComplete(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
  return length !== undefined && new TextEncoder().encode(text.slice(end + 4)).byteLength >=
      Number(length);
}

/** `GET /health` on a fresh connection from `localAddress`. */
export function freshHealth(
  port: number,
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  return rawHttp({
    port,
    request: `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    localAddress: options.localAddress ?? PROBER,
    timeoutMs: options.timeoutMs ?? 2000,
  });
}

/** What a `/health` prober saw. */
export interface HealthFigures {
  readonly probes: number;
  /** Probes without a 200 within the timeout. */
  readonly failures: number;
  /** How many failed which way: `timeout`, a connect error, `closed`, or a status. */
  readonly failureKinds: Readonly<Record<string, number>>;
  /** Latency percentiles in ms; a failed probe counts as the timeout. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Probes `/health` on a fresh connection from {@linkcode PROBER} every `everyMs` (default 100,
 * below the default per-address rate limit) until stopped, from a thread of its own so that a
 * busy attack in this one does not delay the probes.
 */
export function healthProbe(
  port: number,
  options: { everyMs?: number; timeoutMs?: number } = {},
): { stop(): Promise<HealthFigures> } {
  const worker = new Worker(new URL("./_health_probe_worker.ts", import.meta.url), {
    type: "module",
  });
  worker.postMessage({
    port,
    everyMs: options.everyMs ?? 100,
    timeoutMs: options.timeoutMs ?? 2000,
  });
  return {
    async stop() {
      type Figures = {
        latencies: number[];
        failures: number;
        failureKinds: Record<string, number>;
      };
      const done = new Promise<Figures>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
      });
      worker.postMessage("stop");
      const { latencies, failures, failureKinds } = await done;
      worker.terminate();
      return {
        probes: latencies.length,
        failures,
        failureKinds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.length ? Math.max(...latencies) : NaN,
      };
    },
  };
}

/** A fetch whose connections come from `localAddress`; close it with `client.close()`. */
export function fetchFrom(localAddress: string): { fetch: typeof fetch; client: Deno.HttpClient } {
  const client = Deno.createHttpClient({ localAddress });
  const bound: typeof fetch = (input, init) => fetch(input, { ...init, client });
  return { fetch: bound, client };
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  }));
}

/** The value of one series on the relay's metrics listener at `127.0.0.1:port`, NaN if absent. */
export async function metricValue(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((line) => line.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}
