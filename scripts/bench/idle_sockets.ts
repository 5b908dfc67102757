/**
 * A client process for the `connections` scenario: opens `count` authenticated sockets to a
 * relay (16 devices per vault), prints `ready <count>` once all are open, and keeps them idle until
 * its stdin closes.
 *
 * Usage: deno run -A scripts/bench/idle_sockets.ts <relay url> <count>
 *
 * @module
 */
import { generateVaultKeys, RelayClient, type RelaySocket } from "../../lib/client/mod.ts";

const DEVICES_PER_VAULT = 16;

if (import.meta.main) {
  const [url, rawCount] = Deno.args;
  const count = Number(rawCount);
  const sockets: RelaySocket[] = [];
  for (let opened = 0; opened < count; opened += DEVICES_PER_VAULT) {
    const keys = await generateVaultKeys();
    const batch = Math.min(DEVICES_PER_VAULT, count - opened);
    const clients = await Promise.all(
      Array.from(
        { length: batch },
        (_, i) => RelayClient.create({ url: url!, keys, device: `d${i}` }),
      ),
    );
    sockets.push(...await Promise.all(clients.map((client) => client.connect())));
  }
  console.log(`ready ${sockets.length}`);
  for await (const _ of Deno.stdin.readable) {
    // Idle until the parent closes stdin.
  }
  await Promise.all(sockets.map((socket) => socket.close()));
}
