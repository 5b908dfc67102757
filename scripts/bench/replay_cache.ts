/**
 * Replay cache: memory per remembered nonce and time per `remember`, for the relay's
 * `NonceCache` filled to its default total (500 000 nonces from 10 addresses over 50 000 vaults,
 * all inside the 121 s horizon), against the plainest structure that does the same job in the
 * same run: a `Set` of `vault\nnonce` strings with a queue of records for expiry (the relay's
 * cache until 2026-12-02). Each is measured in a fresh child process started with
 * `--expose-gc`, so the heap is collected before and after filling.
 *
 * @module
 */
import { NonceCache } from "../../lib/guard/nonce_cache.ts";
import { ManualClock } from "../../lib/clock.ts";
import { defaultConfig } from "../../lib/config/mod.ts";
import { relayLimits } from "../../lib/limits.ts";
import { fdBudget } from "../../lib/guard/fd_budget.ts";
import { FULL_MEMORY } from "../../lib/guard/memory_limit.ts";
import { fixed, report } from "./_load.ts";

const KINDS = ["relay", "strings"] as const;
type Kind = typeof KINDS[number];

/** What one child measured. */
interface Figures {
  readonly nonces: number;
  readonly bytesPerNonce: number;
  readonly nsPerRemember: number;
}

/** The strings baseline: what the cache held per nonce before it kept fingerprints. */
class StringNonces {
  readonly #byVault = new Map<string, Set<string>>();
  readonly #byAddress = new Map<string, number>();
  readonly #queue: { expiry: number; vaultId: string; nonce: string; address: string }[] = [];

  remember(use: { vaultId: string; nonce: string; address: string }): boolean {
    let nonces = this.#byVault.get(use.vaultId);
    if (nonces?.has(use.nonce)) return false;
    if (!nonces) this.#byVault.set(use.vaultId, nonces = new Set());
    nonces.add(use.nonce);
    this.#byAddress.set(use.address, (this.#byAddress.get(use.address) ?? 0) + 1);
    this.#queue.push({ expiry: Date.now() + 121_000, ...use });
    return true;
  }
}

/** Heap and external bytes after a full collection. */
function heldBytes(): number {
  (globalThis as unknown as { gc(): void }).gc();
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** The relay's default replay cache total. */
function defaultTotal(): number {
  return relayLimits(defaultConfig(), {
    maxDbBytes: 0,
    fds: fdBudget(1024, { p2p: false }),
    memory: FULL_MEMORY,
  })
    .signatures.noncesTotal;
}

/** Runs in the child: fills one structure with `nonces` and prints its figures as JSON. */
function measure(kind: Kind, nonces: number): Figures {
  const cache = kind === "relay"
    ? new NonceCache(new ManualClock(), {
      perVault: nonces,
      perAddress: nonces,
      total: nonces,
    })
    : new StringNonces();
  // Vault ids and nonces as clients send them: 43 and 22 base64url characters.
  const vaults = Array.from(
    { length: 50_000 },
    () =>
      crypto.getRandomValues(new Uint8Array(32)).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
  );
  // Reachable until the process ends, so the collector cannot take it before the measurement.
  (globalThis as unknown as { measured: unknown }).measured = cache;
  const before = heldBytes();
  let elapsed = 0;
  let remembered = 0;
  for (let i = 0; i < nonces; i++) {
    // A fresh string per request, as the relay gets it from a signature header.
    const nonce = crypto.getRandomValues(new Uint8Array(16)).toBase64({ omitPadding: true });
    const use = { vaultId: vaults[i % vaults.length]!, nonce, address: `10.0.0.${i % 10}` };
    const started = performance.now();
    if (cache.remember(use)) remembered++;
    elapsed += performance.now() - started;
  }
  const held = heldBytes() - before;
  return {
    nonces: remembered,
    bytesPerNonce: held / nonces,
    nsPerRemember: (elapsed * 1e6) / nonces,
  };
}

async function child(kind: Kind, nonces: number): Promise<Figures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      kind,
      String(nonces),
    ],
    stdin: "null",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`the ${kind} child failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** `deno task bench replay-cache`; `nonces` (default: the relay's total) is how many to fill. */
export async function replayCache(
  options: { json: boolean; nonces?: number },
): Promise<{ relay: Figures; strings: Figures }> {
  const nonces = options.nonces ?? defaultTotal();
  const [relay, strings] = [await child("relay", nonces), await child("strings", nonces)];
  const mib = (figures: Figures) => (figures.bytesPerNonce * figures.nonces) / 2 ** 20;
  report({
    title: `replay cache filled to ${relay.nonces} nonces (each in a fresh --expose-gc child)`,
    rows: [
      [
        "relay (fingerprints)",
        `${fixed(relay.bytesPerNonce)} B/nonce (${fixed(mib(relay))} MiB), ${
          fixed(relay.nsPerRemember, 0)
        } ns/remember`,
      ],
      [
        "Set of strings",
        `${fixed(strings.bytesPerNonce)} B/nonce (${fixed(mib(strings))} MiB), ${
          fixed(strings.nsPerRemember, 0)
        } ns/remember`,
      ],
      ["ratio", `memory ${fixed(relay.bytesPerNonce / strings.bytesPerNonce, 2)}`],
    ],
    figures: { relay, strings },
    json: options.json,
  });
  return { relay, strings };
}

if (import.meta.main) {
  const [kind, nonces] = [Deno.args[0] as Kind, Number(Deno.args[1])];
  if (!KINDS.includes(kind) || !(nonces > 0)) {
    throw new Error(`usage: replay_cache.ts <${KINDS.join("|")}> <nonces>`);
  }
  console.log(JSON.stringify(measure(kind, nonces)));
}
