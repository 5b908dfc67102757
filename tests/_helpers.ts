/**
 * Shared test fixtures: temporary folders and in-process relays on port 0.
 *
 * @module
 */
import { type Config, defaultConfig } from "../lib/config.ts";
import { Relay } from "../lib/relay.ts";

/** A temporary folder removed on dispose. */
export function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "vaultmesh-relay-test-" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

/** Starts an in-process relay on 127.0.0.1:0 with a database in `dir` and p2p off. */
export function startRelay(dir: string, overrides: Partial<Config> = {}): Promise<Relay> {
  return Relay.start(defaultConfig({
    listen: { hostname: "127.0.0.1", port: 0 },
    db: `${dir}/relay.db`,
    p2pPort: 0,
    ...overrides,
  }));
}

/** Protocol-3 request headers. */
export const PROTOCOL_3 = { "x-vaultmesh-protocol": "3" } as const;
