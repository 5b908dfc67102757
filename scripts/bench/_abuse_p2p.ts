/**
 * The libp2p attacks of issue 13: many connections from one address, and a rendezvous table
 * filled by ten peers with the largest records the relay accepts. Each starts its own relay
 * child with p2p on (default limits) and adds its figures to a {@linkcode Row}.
 *
 * @module
 */
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { RENDEZVOUS_PROTOCOL } from "../../lib/p2p/rendezvous.ts";
import {
  decodeMessage,
  encodeMessage,
  MessageType,
  ResponseStatus,
} from "../../lib/p2p/rendezvous_messages.ts";
import { fixed } from "./_load.ts";
import { pool, sleep } from "./_abuse_net.ts";
import { type AttackContext, growth, mib, Row } from "./_abuse_row.ts";
import { memorySampler, scratchDir, startTarget, type Target } from "./_abuse_target.ts";

const MiB = 2 ** 20;

/** The relay's libp2p address on 127.0.0.1, from its banner. */
async function p2pAddress(target: Target): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const line of target.lines) {
      const match = /p2p addr\s+(\/ip4\/127\.0\.0\.1\/\S+)/.exec(line);
      if (match) return match[1]!;
    }
    await sleep(50);
  }
  throw new Error("The relay never printed its libp2p address");
}

/** A bare client node: TCP, noise, yamux; its own connection limits out of the way. */
async function clientNode(privateKey?: PrivateKey): Promise<Libp2p> {
  return await createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: 100_000,
      maxParallelDials: 200,
      maxDialQueueLength: 100_000,
    },
  });
}

/**
 * One peer opens 1000 libp2p connections (TCP, noise, yamux) to the relay from one address:
 * how many the relay holds a few seconds later, and its memory growth.
 */
export async function p2pConnections(context: AttackContext, row: Row): Promise<void> {
  const count = Math.ceil(1000 * context.scale);
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path, p2p: true });
  const address = multiaddr(await p2pAddress(target));
  await sleep(1000);
  const idle = target.memory();
  const sampler = memorySampler(target.pid);
  const node = await clientNode();
  let failed = 0;
  const failures = new Map<string, number>();
  try {
    const window = 2 * context.seconds;
    const deadline = Date.now() + window * 1000 - 3000;
    // A refused dial is tried again a second later until the window ends: the attacker is
    // patient, so a per-second admission threshold only slows it down.
    await pool(Array.from({ length: count }, (_, i) => i), 50, async () => {
      while (Date.now() < deadline && !target.death()) {
        try {
          await node.dial(address, { force: true, signal: AbortSignal.timeout(5000) });
          return;
        } catch (error) {
          failed++;
          const name = (error as Error).name;
          failures.set(name, (failures.get(name) ?? 0) + 1);
          await sleep(1000);
        }
      }
    });
    await sleep(Math.max(0, deadline - Date.now()) + 3000);
    const held = node.getConnections().filter((c) => c.status === "open").length;
    const memory = sampler.stop();
    row.alive(target);
    row.add(
      "held",
      held,
      `connections held after ${window} s: ${held} of ${count}` +
        (failed
          ? ` (${failed} refused or timed-out dials retried: ${
            JSON.stringify(Object.fromEntries(failures))
          })`
          : ""),
      "within the documented per-address cap",
    );
    row.add(
      "rssGrowthMib",
      (memory.peak.rss - idle.rss) / MiB,
      `RSS growth ${growth(memory.peak.rss - idle.rss)} MiB (RssAnon ${
        growth(memory.peak.anon - idle.anon)
      }) above idle ${mib(idle.rss)} MiB`,
      "≤ 32 MiB",
    );
  } finally {
    sampler.stop();
    await Promise.race([node.stop(), sleep(5000)]);
  }
}

/** A signed peer record padded with addresses to about `bytes`. */
async function bigRecord(node: Libp2p, key: PrivateKey, bytes: number): Promise<Uint8Array> {
  const host = `${"a".repeat(200)}.example`;
  const addresses = Array.from(
    { length: Math.floor(bytes / 215) },
    (_, i) => multiaddr(`/dns4/${host}/tcp/${1000 + i}`),
  );
  const record = new PeerRecord({ peerId: node.peerId, multiaddrs: addresses });
  return (await RecordEnvelope.seal(record, key)).marshal();
}

/**
 * Ten peers register under 1000 namespaces each with records of about 63 KB (the largest the
 * relay reads): how many registrations it keeps, its memory growth, and the size of one
 * DISCOVER reply over all of them.
 */
export async function p2pRendezvous(context: AttackContext, row: Row): Promise<void> {
  const peers = 10;
  const perPeer = Math.ceil(1000 * context.scale);
  await using dir = scratchDir();
  await using target = await startTarget({ dir: dir.path, p2p: true });
  const address = multiaddr(await p2pAddress(target));
  await sleep(1000);
  const idle = target.memory();
  const sampler = memorySampler(target.pid);
  const nodes: Libp2p[] = [];
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  let recordBytes = 0;
  try {
    const deadline = Date.now() + 2 * context.seconds * 1000;
    await Promise.all(Array.from({ length: peers }, async (_, p) => {
      const key = await generateKeyPair("Ed25519");
      const node = await clientNode(key);
      nodes.push(node);
      const record = await bigRecord(node, key, 61_500);
      recordBytes = record.byteLength;
      // Four streams per peer, each carrying its share of REGISTERs one after another.
      await Promise.all(Array.from({ length: 4 }, async (_, s) => {
        let stream;
        for (let attempt = 1; !stream; attempt++) {
          try {
            stream = await node.dialProtocol(address, RENDEZVOUS_PROTOCOL, {
              signal: AbortSignal.timeout(10_000),
            });
          } catch (error) {
            if (attempt === 10 || Date.now() > deadline) {
              return void count(`stream refused (${(error as Error).message.slice(0, 40)})`);
            }
            await sleep(1000); // libp2p admits few new connections per second from one host
          }
        }
        const frames = lpStream(stream);
        try {
          for (let i = s; i < perPeer && Date.now() < deadline; i += 4) {
            await frames.write(encodeMessage({
              type: MessageType.REGISTER,
              register: { ns: `vaultmesh/abuse/${p}/${i}`, signedPeerRecord: record },
            }));
            const answer = decodeMessage((await frames.read()).subarray());
            const status = answer.registerResponse?.status;
            count(status === ResponseStatus.OK ? "ok" : `status ${status}`);
          }
          await stream.close();
        } catch (error) {
          count((error as Error).name);
          stream.abort(error as Error);
        }
      }));
    }));
    const registered = outcomes.get("ok") ?? 0;
    let discover = "not measured";
    let discoverBytes = NaN;
    if (nodes[0] && !target.death()) {
      try {
        const stream = await nodes[0].dialProtocol(address, RENDEZVOUS_PROTOCOL);
        const frames = lpStream(stream, { maxDataLength: 512 * MiB, maxBufferSize: 512 * MiB });
        await frames.write(
          encodeMessage({ type: MessageType.DISCOVER, discover: { limit: 1000n } }),
        );
        const reply = (await frames.read({ signal: AbortSignal.timeout(20_000) })).subarray();
        discoverBytes = reply.byteLength;
        const found = decodeMessage(reply).discoverResponse?.registrations.length ?? 0;
        discover = `${fixed(discoverBytes / MiB)} MiB (${found} registrations)`;
        await stream.close();
      } catch (error) {
        discover = `failed: ${(error as Error).message.slice(0, 80)}`;
      }
    }
    const memory = sampler.stop();
    row.alive(target);
    row.add(
      "registrations",
      registered,
      `registrations held ${registered} of ${peers * perPeer} from ${peers} peers, ${
        fixed(recordBytes / 1000)
      } KB records (answers ${JSON.stringify(Object.fromEntries(outcomes))})`,
      "within the documented per-peer and per-address caps",
    );
    row.add(
      "rssGrowthMib",
      (memory.peak.rss - idle.rss) / MiB,
      `RSS growth ${growth(memory.peak.rss - idle.rss)} MiB (RssAnon ${
        growth(memory.peak.anon - idle.anon)
      }) above idle ${mib(idle.rss)} MiB`,
      "≤ 32 MiB",
    );
    row.add("discoverMib", discoverBytes / MiB, `one DISCOVER reply (limit 1000) ${discover}`);
  } finally {
    sampler.stop();
    await Promise.all(nodes.map((node) => Promise.race([node.stop(), sleep(5000)])));
  }
}
