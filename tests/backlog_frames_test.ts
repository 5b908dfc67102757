import assert from "node:assert/strict";
import { generateVaultKeys, RelayClient, RelayError } from "../lib/client/mod.ts";
import {
  BACKLOG_FRAMES_TYPE,
  decodeBacklogPage,
  readBacklogPageHeaders,
} from "../lib/protocol/backlog_page.ts";
import { BACKLOG_PACKED_TYPE, decodePackedPage } from "../lib/protocol/packed_page.ts";
import { bytes, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";

const FRAMES = { accept: BACKLOG_FRAMES_TYPE } as const;
const PACKED = { accept: BACKLOG_PACKED_TYPE } as const;

/** The JSON page and both binary pages of one query, fetched one after the other. */
async function bothPages(client: RelayClient, query: Record<string, number> = {}) {
  const jsonResponse = await client.request("GET", "/envelopes", { query });
  assert.equal(jsonResponse.status, 200);
  const json = await jsonResponse.json();
  const framesResponse = await client.request("GET", "/envelopes", { query, headers: FRAMES });
  assert.equal(framesResponse.status, 200);
  const frames = decodeBacklogPage(new Uint8Array(await framesResponse.arrayBuffer()));
  const packedResponse = await client.request("GET", "/envelopes", { query, headers: PACKED });
  assert.equal(packedResponse.status, 200);
  const packed = decodePackedPage(new Uint8Array(await packedResponse.arrayBuffer()));
  return { json, jsonResponse, frames, framesResponse, packed, packedResponse };
}

/** A JSON envelope without what a frame does not carry, in the frame's field names. */
function asFrame(envelope: Record<string, unknown>) {
  return {
    seq: envelope.seq,
    from: envelope.from,
    to: envelope.to,
    createdAt: envelope.created_at,
    body: Uint8Array.fromBase64(envelope.body as string),
  };
}

Deno.test("a binary page, framed or packed, carries the same envelopes and page fields as the JSON page", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
  await tablet!.usage(); // seen, so acknowledged envelopes stay for it
  const random = crypto.getRandomValues(new Uint8Array(60_000));
  await laptop!.send(bytes("to everyone"));
  await laptop!.send(bytes("to the phone"), { to: "phone" });
  await laptop!.send(bytes("to the tablet"), { to: "tablet" });
  await tablet!.send(random);
  await laptop!.send(bytes("x"));
  await phone!.ack(1);

  for (
    const query of [{}, { after: 0 }, { after: 0, limit: 2 }, { after: 4, limit: 1 }, { after: 5 }]
  ) {
    const { json, jsonResponse, frames, framesResponse, packed, packedResponse } = await bothPages(
      phone!,
      query,
    );
    const label = JSON.stringify(query);
    assert.deepEqual(frames, json.envelopes.map(asFrame), label);
    assert.deepEqual(packed, frames, label);
    for (const response of [framesResponse, packedResponse]) {
      assert.deepEqual(readBacklogPageHeaders(response.headers), {
        acked: json.acked,
        latestSeq: json.latest_seq,
        more: json.more,
      }, label);
    }
    assert.equal(framesResponse.headers.get("content-type"), BACKLOG_FRAMES_TYPE);
    assert.equal(packedResponse.headers.get("content-type"), BACKLOG_PACKED_TYPE);
    assert.match(jsonResponse.headers.get("content-type")!, /^application\/json/);
    for (const response of [jsonResponse, framesResponse, packedResponse]) {
      assert.equal(response.headers.get("vary"), "accept");
      const exposed = response.headers.get("access-control-expose-headers")!.split(", ");
      for (const name of ["x-vaultmesh-acked", "x-vaultmesh-latest-seq", "x-vaultmesh-more"]) {
        assert.ok(exposed.includes(name), `${name} is exposed to browsers`);
      }
    }
  }
  const { json, frames } = await bothPages(phone!);
  assert.deepEqual(frames.map((f) => f.seq), [2, 4, 5], "after the cursor, for the phone only");
  assert.equal(json.acked, 1);
  assert.deepEqual(frames[1]!.body, random);
  const cut = await bothPages(phone!, { after: 0, limit: 2 });
  assert.equal(cut.json.more, true);
  assert.equal(cut.framesResponse.headers.get("x-vaultmesh-more"), "true");
  const empty = await bothPages(phone!, { after: 5 });
  assert.deepEqual(empty.frames, []);
  assert.deepEqual(empty.packed, []);
  assert.equal(empty.framesResponse.headers.get("content-length"), "0");
  assert.equal(empty.packedResponse.headers.get("content-length"), "0");
  assert.equal(empty.framesResponse.headers.get("x-vaultmesh-more"), "false");
});

Deno.test("JSON stays the answer to a browser's Accept, and errors stay JSON when frames are asked for", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  await laptop!.send(bytes("hello"));
  for (const accept of ["*/*", "application/json", `${BACKLOG_FRAMES_TYPE};q=0`]) {
    const response = await phone!.request("GET", "/envelopes", { headers: { accept } });
    assert.match(response.headers.get("content-type")!, /^application\/json/, accept);
    assert.equal((await response.json()).envelopes.length, 1, accept);
  }
  const refused = await phone!.request("GET", "/envelopes", {
    query: { limit: 0 },
    headers: FRAMES,
  });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error, "bad_parameter");
  await assert.rejects(
    phone!.backlog({ limit: 0 }),
    (error: unknown) => error instanceof RelayError && error.code === "bad_parameter",
  );
});

Deno.test("a binary long poll answers with the envelope as soon as it arrives, and empty when its time is up", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const polling = phone!.request("GET", "/envelopes", { query: { wait: 20 }, headers: FRAMES });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const sent = await laptop!.send(bytes("wake up"), { to: "phone" });
  assert.equal(sent.recipients, 1, "the waiting binary poll counts as a live recipient");
  const response = await polling;
  assert.equal(response.headers.get("content-type"), BACKLOG_FRAMES_TYPE);
  const frames = decodeBacklogPage(new Uint8Array(await response.arrayBuffer()));
  assert.deepEqual(frames.map((f) => [f.seq, f.from, f.to, text(f.body)]), [
    [sent.seq, "laptop", "phone", "wake up"],
  ]);
  assert.deepEqual(readBacklogPageHeaders(response.headers), {
    acked: 0,
    latestSeq: sent.seq,
    more: false,
  });

  const idle = await phone!.request("GET", "/envelopes", {
    query: { after: sent.seq, wait: 1 },
    headers: FRAMES,
  });
  assert.equal(idle.headers.get("content-type"), BACKLOG_FRAMES_TYPE);
  assert.equal((await idle.arrayBuffer()).byteLength, 0);
  assert.equal(idle.headers.get("x-vaultmesh-more"), "false");
});

Deno.test("a binary long poll on a stateless relay carries the live envelope", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless" });
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const polling = phone!.backlog({ wait: 20 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const sent = await laptop!.send(bytes("live only"));
  assert.equal(sent.recipients, 1);
  const page = await polling;
  assert.deepEqual(page.envelopes.map((e) => [e.seq, e.expiresAt, text(e.body)]), [
    [sent.seq, 0, "live only"],
  ]);
  assert.equal(page.more, false);
});

/** A client of `device` that records the content type of every answer it reads. */
async function recordingClient(
  relayUrl: string,
  keys: CryptoKeyPair,
  options: { device: string; dropAccept?: boolean },
) {
  const types: (string | null)[] = [];
  const client = await RelayClient.create({
    url: relayUrl,
    keys,
    device: options.device,
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      if (options.dropAccept) headers.delete("accept");
      const response = await fetch(input, { ...init, headers });
      types.push(response.headers.get("content-type"));
      return response;
    },
  });
  return { client, types };
}

Deno.test("the client asks for packed pages by default and returns what a JSON page returns, expiresAt aside", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const keys = await generateVaultKeys();
  const [laptop] = await vaultDevices(relay.url, ["laptop"], { keys });
  const { client: phone, types } = await recordingClient(relay.url, keys, { device: "phone" });
  await laptop!.send(bytes("one"), { to: "phone" });
  await laptop!.send(crypto.getRandomValues(new Uint8Array(4096)));
  await laptop!.send(bytes("three"));

  const packed = await phone.backlog({ after: 0, limit: 2 });
  const frames = await phone.backlog({ after: 0, limit: 2, format: "frames" });
  const json = await phone.backlog({ after: 0, limit: 2, format: "json" });
  assert.deepEqual(types, [
    BACKLOG_PACKED_TYPE,
    BACKLOG_FRAMES_TYPE,
    "application/json; charset=utf-8",
  ]);
  assert.ok(json.envelopes.every((e) => e.expiresAt > e.createdAt));
  assert.deepEqual(frames, {
    ...json,
    envelopes: json.envelopes.map((e) => ({ ...e, expiresAt: 0 })),
  });
  assert.deepEqual(packed, frames);
  assert.equal(frames.more, true);
  assert.equal(frames.latestSeq, 3);
});

Deno.test("the client reads a JSON answer to its request for frames, as from a relay without them", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const keys = await generateVaultKeys();
  const [laptop] = await vaultDevices(relay.url, ["laptop"], { keys });
  const { client: phone, types } = await recordingClient(relay.url, keys, {
    device: "phone",
    dropAccept: true,
  });
  await laptop!.send(bytes("hello"));
  const page = await phone.backlog();
  assert.match(types[0]!, /^application\/json/);
  assert.deepEqual(page.envelopes.map((e) => text(e.body)), ["hello"]);
  assert.ok(page.envelopes[0]!.expiresAt > 0);
});

Deno.test("the client reads an answer of an unknown Content-Type as JSON, even one named like an object property", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const keys = await generateVaultKeys();
  const [laptop] = await vaultDevices(relay.url, ["laptop"], { keys });
  await laptop!.send(bytes("hello"));
  for (const type of ["constructor", "tostring", "application/octet-stream"]) {
    const phone = await RelayClient.create({
      url: relay.url,
      keys,
      device: "phone",
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        const headers = new Headers(response.headers);
        headers.set("content-type", type);
        return new Response(response.body, { status: response.status, headers });
      },
    });
    await assert.rejects(phone.backlog(), SyntaxError, type);
  }
});
