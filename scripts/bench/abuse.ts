/**
 * Abuse: hostile clients against a relay child with default flags, one row per attack with the
 * figures issues 13 (network) and 14 (storage) name, each printed beside its target. Figures,
 * not verdicts: a relay that crashes or balloons is reported as such ("relay died: exit 1") and
 * the table goes on.
 *
 * Every attack starts its own relay child on 127.0.0.1 port 0 (inside a memory cgroup capped at
 * 4 GiB, so a balloon ends that relay and not the machine), stays on loopback, is bounded in
 * count and time, and removes what it made (children, temp folders, mounts) even when it fails.
 * `--seconds N` (default 15) is each attack's load or observation window; the fresh-key flood
 * runs twice that. `--only a,b` runs the named attacks (a prefix such as `storage` selects every
 * `storage-…` row).
 *
 * @module
 */
import { report } from "./_load.ts";
import { type Attack, type AttackContext, Row } from "./_abuse_row.ts";
import { cleanUpEverything } from "./_abuse_target.ts";
import {
  idleConnections,
  malformed,
  partialFrames,
  slowBodies,
  slowloris,
  slowReaders,
} from "./_abuse_network.ts";
import { p2pConnections, p2pRendezvous } from "./_abuse_p2p.ts";
import {
  deletedFile,
  fullDisk,
  keyFlood,
  largeAck,
  longPolls,
  presenceBoard,
  readOnlyFile,
} from "./_abuse_storage.ts";

/** Every attack in table order: issue 13's first. */
export const ATTACKS: readonly Attack[] = [
  { name: "fd-idle", issue: 13, run: idleConnections },
  { name: "slow-readers-stateless", issue: 13, run: (c, r) => slowReaders("stateless", c, r) },
  { name: "slow-readers-stored", issue: 13, run: (c, r) => slowReaders("store-and-forward", c, r) },
  { name: "partial-frames", issue: 13, run: partialFrames },
  { name: "slow-bodies", issue: 13, run: slowBodies },
  { name: "slowloris", issue: 13, run: slowloris },
  { name: "p2p-connections", issue: 13, run: p2pConnections },
  { name: "p2p-rendezvous", issue: 13, run: p2pRendezvous },
  { name: "malformed", issue: 13, run: malformed },
  { name: "key-flood", issue: 14, run: keyFlood },
  { name: "ack-200k", issue: 14, run: largeAck },
  { name: "long-polls", issue: 14, run: longPolls },
  { name: "presence-board", issue: 14, run: presenceBoard },
  { name: "storage-full-disk", issue: 14, run: fullDisk },
  { name: "storage-read-only", issue: 14, run: readOnlyFile },
  { name: "storage-deleted", issue: 14, run: deletedFile },
];

/** What each attack does, for the table's header lines. */
const DESCRIPTIONS: Record<string, string> = {
  "fd-idle": "relay under prlimit --nofile=1024; 1100 TCP connections that never send a byte",
  "slow-readers-stateless":
    "--mode stateless; 31 authenticated sockets stop reading, one sender keeps 2 MiB in flight",
  "slow-readers-stored": "store-and-forward; the same slow readers and sender",
  "partial-frames": "256 unauthenticated sockets announce a 64 MiB frame and send up to 4 MiB",
  "slow-bodies":
    "4096 signed 1 MiB sends from 64 addresses; bodies trickle, last byte never sent; --max-open-files as the service's limit",
  "slowloris": "1000 connections send their request headers one byte a second",
  "p2p-connections": "one peer dials 1000 libp2p connections from one address, retrying refusals",
  "p2p-rendezvous": "10 peers register under 1000 namespaces each with ~63 KB records",
  "malformed": "bad Host headers, bare Upgrade, fuzz corpus and raw garbage",
  "key-flood": "one address creates vault after vault, 1 MiB envelopes over sockets and HTTP",
  "ack-200k": "one ack on 200 000 envelopes x 200 devices, then a flood of socket acks",
  "long-polls": "one address holds the in-flight cap with long polls; an honest client tries",
  "presence-board": "one address fills the presence board; an honest client tries",
  "storage-full-disk": "the database's disk fills up",
  "storage-read-only": "the database files become immutable under the relay",
  "storage-deleted": "the database files are deleted under the relay",
};

function selected(only: readonly string[] | undefined): Attack[] {
  if (!only || only.length === 0) return [...ATTACKS];
  const unknown = only.filter((name) =>
    !ATTACKS.some((a) => a.name === name || a.name.startsWith(`${name}-`))
  );
  if (unknown.length) {
    throw new RangeError(
      `Unknown attack "${unknown.join('", "')}": expected one of ${
        ATTACKS.map((a) => a.name).join(", ")
      }`,
    );
  }
  return ATTACKS.filter((a) => only.some((n) => a.name === n || a.name.startsWith(`${n}-`)));
}

/** Runs one attack within its time limit; a failure becomes the row's text. */
async function runAttack(attack: Attack, context: AttackContext): Promise<Row> {
  const row = new Row(attack.name);
  // Generous: setup (a 200 000-envelope database, 10 000 registrations) comes on top of the
  // attack's own window; beyond this the attack is abandoned and its resources cleaned up.
  const limitMs = (Math.max(30, 2 * context.seconds) + 90) * 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), limitMs);
  });
  try {
    const outcome = await Promise.race([attack.run(context, row), timedOut]);
    if (outcome === "timeout") {
      row.note(`attack abandoned after ${limitMs / 1000} s`);
      await cleanUpEverything();
    }
  } catch (error) {
    // First line and, for a relay that would not start, its last words.
    const lines = (error as Error).message.split("\n").filter((line) => line.trim() !== "");
    const last = lines.findLast((line) => !/^\s+at\s/.test(line));
    row.note(`attack failed: ${lines[0]}${last && last !== lines[0] ? ` ${last.trim()}` : ""}`);
    await cleanUpEverything();
  } finally {
    clearTimeout(timer);
  }
  return row;
}

/** Runs the scenario and prints its figures. */
export async function abuse(
  options: { seconds: number; json: boolean; only?: readonly string[]; scale?: number },
): Promise<Record<string, Record<string, unknown>>> {
  const attacks = selected(options.only);
  const context: AttackContext = { seconds: options.seconds, scale: options.scale ?? 1 };
  const onSignal = () => {
    cleanUpEverything().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  // A promise an abandoned attack leaves behind must not end the run (and leak what it holds).
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    console.error(`abuse: ignored a late failure: ${String(event.reason).split("\n")[0]}`);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  // Libp2p of the relay children listens on loopback only (a relay without --p2p-listen ignores
  // the variable and listens on the host of --listen, also loopback).
  const p2pListen = Deno.env.get("VAULTMESH_RELAY_P2P_LISTEN");
  Deno.env.set("VAULTMESH_RELAY_P2P_LISTEN", "127.0.0.1");
  const rows: Row[] = [];
  try {
    for (const attack of attacks) {
      if (!options.json) console.error(`abuse: ${attack.name}: ${DESCRIPTIONS[attack.name]}`);
      const row = await runAttack(attack, context);
      if (!options.json) console.error(`  ${row.text()}`);
      rows.push(row);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    if (p2pListen === undefined) Deno.env.delete("VAULTMESH_RELAY_P2P_LISTEN");
    else Deno.env.set("VAULTMESH_RELAY_P2P_LISTEN", p2pListen);
    await cleanUpEverything();
  }
  const figures = Object.fromEntries(rows.map((row) => [row.name, row.values]));
  report({
    title:
      `abuse: each attack against its own relay child with default flags on loopback, ${context.seconds} s window` +
      (context.scale === 1 ? "" : `, counts scaled by ${context.scale}`),
    json: options.json,
    rows: rows.map((row) => [row.name, row.text()]),
    figures: { scenario: "abuse", seconds: context.seconds, ...figures },
  });
  return figures;
}
