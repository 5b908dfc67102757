/**
 * Shared test fixtures: temporary folders and in-process relays on port 0.
 *
 * @module
 */
import { type Config, defaultConfig } from "../lib/config/mod.ts";
import { Relay, type RelayOptions } from "../lib/relay.ts";
import type { Clock } from "../lib/clock.ts";
import { generateVaultKeys, RelayClient } from "../lib/client/mod.ts";
import { loopbackRelayFlags, type RelayProcess, spawnRelay } from "../scripts/relay_process.ts";

/**
 * Removes a folder, retrying briefly while a process that just exited (e.g. Chromium's helper
 * processes after the browser was killed) still writes into it.
 */
function removeSoon(path: string): void {
  for (let attempt = 0;; attempt++) {
    try {
      return Deno.removeSync(path, { recursive: true });
    } catch (error) {
      if (
        attempt >= 50 || !(error instanceof Error) || !/not empty|os error 39/.test(error.message)
      ) {
        throw error;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

/** A temporary folder removed on dispose. */
export function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "vaultmesh-relay-test-" });
  return { path, [Symbol.dispose]: () => removeSoon(path) };
}

/** Starts an in-process relay on 127.0.0.1:0 with a database in `dir` and p2p off (on 127.0.0.1 when on). */
export function startRelay(
  dir: string,
  overrides: Partial<Config> = {},
  options: RelayOptions = {},
): Promise<Relay> {
  return Relay.start(
    defaultConfig({
      listen: { hostname: "127.0.0.1", port: 0 },
      db: `${dir}/relay.db`,
      p2pPort: 0,
      p2pListen: "127.0.0.1",
      ...overrides,
    }),
    options,
  );
}

/**
 * A relay child process (`main.ts` with the start task's permissions and V8 flags) on
 * 127.0.0.1:0 with a database in `dir` and p2p off, and `flags` besides.
 */
export function spawnTestRelay(dir: string, flags: readonly string[] = []): Promise<RelayProcess> {
  return spawnRelay([...loopbackRelayFlags(dir), ...flags]);
}

/** Protocol-3 request headers. */
export const PROTOCOL_3 = { "x-vaultmesh-protocol": "3" } as const;

/** Clients for several devices of one new vault. */
export async function vaultDevices(
  url: string,
  devices: readonly string[],
  options: { clock?: Clock; keys?: CryptoKeyPair } = {},
): Promise<RelayClient[]> {
  const keys = options.keys ?? await generateVaultKeys();
  const clock = options.clock;
  const now = clock ? { now: () => Math.floor(clock.now() / 1000) } : {};
  return await Promise.all(
    devices.map((device) => RelayClient.create({ url, keys, device, ...now })),
  );
}

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

/** UTF-8 text of `data`. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** Sends raw bytes on a fresh connection; resolves with the status and the body of the answer. */
export async function rawRequest(
  url: string,
  request: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buffer = new Uint8Array(16 * 1024);
    const complete = () => {
      const [head, body] = text.split("\r\n\r\n", 2);
      const length = /content-length: (\d+)/i.exec(head ?? "")?.[1];
      return body !== undefined && length !== undefined && body.length >= Number(length);
    };
    while (!complete()) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    return { status, body: text.split("\r\n\r\n")[1] ?? "" };
  } finally {
    conn.close();
  }
}

/**
 * An in-process relay with a 1 h TTL on `clock`, whose expiry sweep runs on the hour (or when
 * the test runs {@linkcode sweepOf} it).
 */
export function startHourlyRelay(
  dir: string,
  clock: Clock,
  overrides: Partial<Config> = {},
): Promise<Relay> {
  return startRelay(dir, { ttlHours: 1, ...overrides }, sweepingEvery(3600_000, { clock }));
}

/** The relay's expiry sweep (store-and-forward), to run it directly. */
export function sweepOf(relay: Relay): () => Promise<number> {
  return (relay.mode as unknown as { sweep(): Promise<number> }).sweep;
}

/** Relay options that sweep expired envelopes every `ms` milliseconds (with `clock`, if given). */
export function sweepingEvery(ms: number, options: RelayOptions = {}): RelayOptions {
  return {
    ...options,
    adjustLimits: (limits) => ({ ...limits, modes: { ...limits.modes, sweepIntervalMs: ms } }),
  };
}
