import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { RENDEZVOUS_PROTOCOL } from "../lib/p2p/rendezvous.ts";
import {
  decodeMessage,
  encodeCookie,
  encodeMessage,
  MessageType,
  type RendezvousMessage,
  ResponseStatus,
} from "../lib/p2p/rendezvous_messages.ts";
import { tempDir } from "./_helpers.ts";
import { createPeer, startNode, waitFor } from "./_p2p.ts";

const NS = "vaultmesh/test";
const HOUR = 3600;
const KiB = 1024;

/** A rendezvous server: the relay's p2p node alone. */
const startRendezvous = startNode;

/** A client peer with its key, so it can sign its own peer record; `localAddress` to dial from. */
async function client(
  localAddress?: string,
): Promise<{ peer: Libp2p; key: PrivateKey } & AsyncDisposable> {
  const key = await generateKeyPair("Ed25519");
  const peer = await createPeer([], { privateKey: key, ...(localAddress ? { localAddress } : {}) });
  return { peer, key, [Symbol.asyncDispose]: async () => await peer.stop() };
}

/** The peer's signed record; with `bytes`, padded with long addresses to about that size. */
async function signedRecord(peer: Libp2p, key: PrivateKey, bytes = 0): Promise<Uint8Array> {
  const host = `${"a".repeat(200)}.example`;
  const padding = Array.from(
    { length: Math.floor(bytes / 215) },
    (_, i) => multiaddr(`/dns4/${host}/tcp/${1000 + i}`),
  );
  const multiaddrs = [...peer.getMultiaddrs(), ...padding];
  const record = new PeerRecord({ peerId: peer.peerId, multiaddrs });
  return (await RecordEnvelope.seal(record, key)).marshal();
}

/** Sends one request on a fresh stream and returns the raw answer (none for UNREGISTER). */
async function askRaw(
  peer: Libp2p,
  address: string,
  request: RendezvousMessage,
): Promise<Uint8Array | undefined> {
  const stream = await peer.dialProtocol(multiaddr(address), RENDEZVOUS_PROTOCOL);
  const frames = lpStream(stream);
  await frames.write(encodeMessage(request));
  if (request.type === MessageType.UNREGISTER) {
    await stream.close();
    return undefined;
  }
  const answer = (await frames.read()).subarray();
  await stream.close();
  return answer;
}

/** Sends one request on a fresh stream and returns the answer (none for UNREGISTER). */
async function ask(
  peer: Libp2p,
  address: string,
  request: RendezvousMessage,
): Promise<RendezvousMessage | undefined> {
  const answer = await askRaw(peer, address, request);
  return answer && decodeMessage(answer);
}

async function register(
  c: { peer: Libp2p; key: PrivateKey },
  address: string,
  options: { ns?: string; ttl?: bigint; record?: Uint8Array } = {},
) {
  const answer = await ask(c.peer, address, {
    type: MessageType.REGISTER,
    register: {
      ns: options.ns ?? NS,
      signedPeerRecord: options.record ?? await signedRecord(c.peer, c.key),
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
    },
  });
  assert.equal(answer?.type, MessageType.REGISTER_RESPONSE);
  return answer!.registerResponse!;
}

async function discover(
  peer: Libp2p,
  address: string,
  query: { ns?: string; limit?: bigint; cookie?: Uint8Array },
) {
  const answer = await ask(peer, address, { type: MessageType.DISCOVER, discover: query });
  assert.equal(answer?.type, MessageType.DISCOVER_RESPONSE);
  return answer!.discoverResponse!;
}

async function peerIdsOf(records: { signedPeerRecord?: Uint8Array }[]): Promise<string[]> {
  return await Promise.all(records.map(async (registration) => {
    const envelope = await RecordEnvelope.openAndCertify(
      registration.signedPeerRecord!,
      PeerRecord.DOMAIN,
    );
    return PeerRecord.createFromProtobuf(envelope.payload).peerId.toString();
  }));
}

Deno.test("rendezvous registers peers and discovers them page by page with a cookie", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  await using b = await client();
  await using c = await client();
  await using d = await client();
  for (const peer of [a, b, c]) {
    const response = await register(peer, server.address);
    assert.equal(response.status, ResponseStatus.OK);
    assert.equal(response.ttl, BigInt(2 * HOUR), "the default TTL is 2 h");
  }
  assert.equal((await register(d, server.address, { ns: "other" })).status, ResponseStatus.OK);

  const first = await discover(d.peer, server.address, { ns: NS, limit: 2n });
  assert.equal(first.status, ResponseStatus.OK);
  assert.deepEqual(await peerIdsOf(first.registrations), [
    a.peer.peerId.toString(),
    b.peer.peerId.toString(),
  ]);
  assert.ok(first.registrations.every((r) => r.ns === NS && r.ttl === BigInt(2 * HOUR)));
  // rust-libp2p's layout: 8-byte big-endian registration id, then the namespace.
  const cookie = first.cookie!;
  assert.equal(new TextDecoder().decode(cookie.subarray(8)), NS);
  assert.equal(new DataView(cookie.buffer, cookie.byteOffset).getBigUint64(0), 2n);

  const second = await discover(d.peer, server.address, { ns: NS, limit: 2n, cookie });
  assert.deepEqual(await peerIdsOf(second.registrations), [c.peer.peerId.toString()]);
  const third = await discover(d.peer, server.address, { ns: NS, cookie: second.cookie! });
  assert.deepEqual(third.registrations, []);
  assert.deepEqual(third.cookie, second.cookie, "nothing new keeps the cookie");

  const everywhere = await discover(d.peer, server.address, {});
  assert.equal(everywhere.registrations.length, 4, "no namespace discovers all of them");
  assert.equal(everywhere.cookie!.byteLength, 8, "a cookie over all namespaces is the id only");
  assert.equal(server.node.stats().registrations, 4);
});

Deno.test("rendezvous removes a registration on UNREGISTER", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  assert.equal((await register(a, server.address)).status, ResponseStatus.OK);
  await ask(a.peer, server.address, { type: MessageType.UNREGISTER, unregister: { ns: NS } });
  // The next request on the same connection is served after the unregister.
  const found = await discover(a.peer, server.address, { ns: NS });
  assert.deepEqual(found.registrations, []);
  assert.equal(server.node.stats().registrations, 0);
});

Deno.test("rendezvous expires a registration when its TTL ends on the injected clock", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  await using b = await client();
  assert.equal(
    (await register(a, server.address, { ttl: BigInt(3 * HOUR) })).ttl,
    BigInt(3 * HOUR),
  );
  server.clock.now += (3 * HOUR - 1) * 1000;
  const before = await discover(b.peer, server.address, { ns: NS });
  assert.equal(before.registrations.length, 1);
  assert.equal(before.registrations[0]!.ttl, 1n, "the TTL left is reported");
  server.clock.now += 1000;
  assert.deepEqual((await discover(b.peer, server.address, { ns: NS })).registrations, []);
  assert.equal(server.node.stats().registrations, 0);
});

Deno.test("rendezvous keeps registrations in the database across a restart", async () => {
  using dir = tempDir();
  await using a = await client();
  {
    await using server = await startRendezvous(dir.path);
    assert.equal((await register(a, server.address)).status, ResponseStatus.OK);
  }
  await using server = await startRendezvous(dir.path);
  await using b = await client();
  const found = await discover(b.peer, server.address, { ns: NS });
  assert.deepEqual(await peerIdsOf(found.registrations), [a.peer.peerId.toString()]);
});

Deno.test("rendezvous refuses a signed peer record for another peer id", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  await using b = await client();
  const recordOfB = await signedRecord(b.peer, b.key);
  const response = await register(a, server.address, { record: recordOfB });
  assert.equal(response.status, ResponseStatus.E_NOT_AUTHORIZED);

  const tampered = await signedRecord(a.peer, a.key);
  tampered[tampered.length - 1]! ^= 0xff;
  const broken = await register(a, server.address, { record: tampered });
  assert.equal(broken.status, ResponseStatus.E_INVALID_SIGNED_PEER_RECORD);
  assert.deepEqual((await discover(a.peer, server.address, { ns: NS })).registrations, []);
});

Deno.test("rendezvous refuses a TTL outside 2 h to 72 h and a namespace over 255 bytes", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  const short = await register(a, server.address, { ttl: BigInt(2 * HOUR - 1) });
  assert.equal(short.status, ResponseStatus.E_INVALID_TTL);
  const long = await register(a, server.address, { ttl: BigInt(72 * HOUR + 1) });
  assert.equal(long.status, ResponseStatus.E_INVALID_TTL);
  assert.equal(
    (await register(a, server.address, { ttl: BigInt(72 * HOUR) })).status,
    ResponseStatus.OK,
  );
  const wide = await register(a, server.address, { ns: "n".repeat(256) });
  assert.equal(wide.status, ResponseStatus.E_INVALID_NAMESPACE);
  const widest = await register(a, server.address, { ns: "n".repeat(255) });
  assert.equal(widest.status, ResponseStatus.OK);
});

Deno.test("rendezvous refuses a cookie issued for another namespace or never issued", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  await register(a, server.address);
  const other = await discover(a.peer, server.address, { ns: NS, cookie: encodeCookie(1, "x") });
  assert.equal(other.status, ResponseStatus.E_INVALID_COOKIE);
  const future = await discover(a.peer, server.address, { ns: NS, cookie: encodeCookie(99, NS) });
  assert.equal(future.status, ResponseStatus.E_INVALID_COOKIE);
  const short = await discover(a.peer, server.address, { ns: NS, cookie: Uint8Array.of(1, 2) });
  assert.equal(short.status, ResponseStatus.E_INVALID_COOKIE);
});

Deno.test("rendezvous caps registrations per peer and in total", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path, {
    config: { p2pMaxRegistrationsPerPeer: 2, p2pMaxRegistrations: 3 },
  });
  await using a = await client();
  await using b = await client();
  assert.equal((await register(a, server.address, { ns: "one" })).status, ResponseStatus.OK);
  assert.equal((await register(a, server.address, { ns: "two" })).status, ResponseStatus.OK);
  const third = await register(a, server.address, { ns: "three" });
  assert.equal(third.status, ResponseStatus.E_UNAVAILABLE);
  // A refresh of an existing registration is not a new one.
  assert.equal((await register(a, server.address, { ns: "two" })).status, ResponseStatus.OK);
  assert.equal((await register(b, server.address, { ns: "one" })).status, ResponseStatus.OK);
  const full = await register(b, server.address, { ns: "two" });
  assert.equal(full.status, ResponseStatus.E_UNAVAILABLE);
  assert.equal(server.node.stats().registrations, 3);
});

Deno.test("rendezvous refuses peers beyond the per-peer and per-address caps, not other addresses", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path, {
    config: { p2pMaxRegistrationsPerPeer: 2 },
    limits: { registrationsPerAddress: 3 },
  });
  await using a = await client();
  await using b = await client();
  await using c = await client("127.0.0.2");
  assert.equal((await register(a, server.address, { ns: "one" })).status, ResponseStatus.OK);
  assert.equal((await register(a, server.address, { ns: "two" })).status, ResponseStatus.OK);
  const perPeer = await register(a, server.address, { ns: "three" });
  assert.equal(perPeer.status, ResponseStatus.E_UNAVAILABLE);
  assert.match(perPeer.statusText!, /This peer holds as many registrations/);

  // b is another peer id, but at a's address, which now holds 3 of 3.
  assert.equal((await register(b, server.address, { ns: "one" })).status, ResponseStatus.OK);
  const perAddress = await register(b, server.address, { ns: "two" });
  assert.equal(perAddress.status, ResponseStatus.E_UNAVAILABLE);
  assert.match(perAddress.statusText!, /Peers at this address hold as many registrations/);
  assert.equal((await register(b, server.address, { ns: "one" })).status, ResponseStatus.OK);

  // c dials from 127.0.0.2: another address, with room of its own.
  assert.equal((await register(c, server.address, { ns: "one" })).status, ResponseStatus.OK);
  assert.equal((await register(c, server.address, { ns: "two" })).status, ResponseStatus.OK);
  assert.equal(server.node.stats().registrations, 5);
  assert.deepEqual(server.node.stats().refusals, {
    registration_peer: 1,
    registration_address: 1,
  });
});

Deno.test("rendezvous refuses a signed peer record over 4 KiB and resets a message over 8 KiB", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path);
  await using a = await client();
  const fits = await signedRecord(a.peer, a.key, 3800);
  assert.ok(fits.byteLength > 3 * KiB && fits.byteLength <= 4 * KiB, `${fits.byteLength} bytes`);
  assert.equal((await register(a, server.address, { record: fits })).status, ResponseStatus.OK);

  const large = await signedRecord(a.peer, a.key, 6000);
  assert.ok(large.byteLength > 5 * KiB && large.byteLength < 7 * KiB, `${large.byteLength} bytes`);
  const refused = await register(a, server.address, { ns: "large", record: large });
  assert.equal(refused.status, ResponseStatus.E_INVALID_SIGNED_PEER_RECORD);
  assert.equal(
    refused.statusText,
    `Signed peer record of ${large.byteLength} bytes is larger than 4096: announce fewer addresses`,
  );

  const huge = await signedRecord(a.peer, a.key, 63_000);
  await assert.rejects(register(a, server.address, { ns: "huge", record: huge }));
  assert.equal(server.node.stats().registrations, 1);
  assert.equal(server.node.stats().refusals.record_size, 1);
});

Deno.test("a DISCOVER reply stays within its byte cap and the cookie pages through the rest", async () => {
  using dir = tempDir();
  const discoverBytes = 16 * KiB;
  await using server = await startRendezvous(dir.path, { limits: { discoverBytes } });
  await using a = await client();
  await using b = await client("127.0.0.2");
  const record = await signedRecord(a.peer, a.key, 3000);
  const namespaces = Array.from({ length: 12 }, (_, i) => `ns/${i}`);
  for (const ns of namespaces) {
    assert.equal((await register(a, server.address, { ns, record })).status, ResponseStatus.OK);
  }
  const seen: string[] = [];
  let cookie: Uint8Array | undefined;
  let pages = 0;
  for (;;) {
    const raw = await askRaw(b.peer, server.address, {
      type: MessageType.DISCOVER,
      discover: { limit: 1000n, ...(cookie ? { cookie } : {}) },
    });
    // The message and its length prefix (two bytes at this size).
    assert.ok(raw!.byteLength + 2 <= discoverBytes, `a reply of ${raw!.byteLength} bytes`);
    const page = decodeMessage(raw!).discoverResponse!;
    assert.equal(page.status, ResponseStatus.OK);
    if (page.registrations.length === 0) break;
    pages++;
    seen.push(...page.registrations.map((registration) => registration.ns!));
    cookie = page.cookie;
  }
  assert.deepEqual(seen, namespaces, "every registration once, in order");
  assert.ok(pages >= 3, `${pages} pages of about 5 records of 3 KB`);
});

Deno.test("rendezvous clamps a DISCOVER limit to its cap", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path, { limits: { discoverRegistrations: 3 } });
  await using a = await client();
  for (const ns of ["one", "two", "three", "four"]) {
    assert.equal((await register(a, server.address, { ns })).status, ResponseStatus.OK);
  }
  const first = await discover(a.peer, server.address, { limit: 1000n });
  assert.equal(first.registrations.length, 3);
  const rest = await discover(a.peer, server.address, { cookie: first.cookie! });
  assert.deepEqual(rest.registrations.map((registration) => registration.ns), ["four"]);
});

Deno.test("rendezvous resets a stream beyond the cap of open streams on one connection", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path, {
    limits: { rendezvousStreamsPerConnection: 2 },
  });
  await using a = await client();
  const open = [
    await a.peer.dialProtocol(multiaddr(server.address), RENDEZVOUS_PROTOCOL),
    await a.peer.dialProtocol(multiaddr(server.address), RENDEZVOUS_PROTOCOL),
  ];
  await assert.rejects(discover(a.peer, server.address, {}));
  await open[0]!.close();
  // The relay closes its end once the peer closed its own, so the slot comes back.
  let answered = false;
  for (let attempt = 0; attempt < 50 && !answered; attempt++) {
    answered = await discover(a.peer, server.address, {}).then(() => true, () => false);
    if (!answered) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(answered, "a stream is served again once one was closed");
  await open[1]!.close();
});

Deno.test("rendezvous answers an address over its request rate later, other addresses at once", async () => {
  using dir = tempDir();
  await using server = await startRendezvous(dir.path, {
    limits: { rendezvousRequestsPerAddress: { perSecond: 2, burst: 2 } },
  });
  await using a = await client();
  await using c = await client("127.0.0.2");
  assert.equal((await register(a, server.address, { ns: "one" })).status, ResponseStatus.OK);
  assert.equal((await register(a, server.address, { ns: "two" })).status, ResponseStatus.OK);
  const answered: string[] = [];
  const late = register(a, server.address, { ns: "three" }).then((response) => {
    answered.push("a");
    return response;
  });
  await waitFor("a request to wait", () => server.node.stats().refusals.rendezvous_rate === 1);
  assert.equal((await register(c, server.address)).status, ResponseStatus.OK);
  answered.push("c");
  assert.equal((await late).status, ResponseStatus.OK, "a is answered in the end");
  assert.deepEqual(answered, ["c", "a"]);
});
