/**
 * Hostile input, bounded and reproducible: a seeded PRNG (mulberry32) builds random and mutated
 * requests against a live relay. Rerun a failure with FUZZ_SEED=<printed seed>.
 */
import assert from "node:assert/strict";
import { generateVaultKeys, signRequest, vaultIdOfKeys } from "../lib/client/mod.ts";
import { bytes, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";
import type { RelayClient } from "../lib/client/mod.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed_2026);
const REQUESTS = 400;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = ReturnType<typeof mulberry32>;

const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;

function randomText(random: Random, max: number): string {
  const alphabet = "abcXYZ019-_=:;,.\"'()[]{}<>/\\?*%@ ~!é✓";
  const length = Math.floor(random() * max);
  return Array.from({ length }, () => pick(random, [...alphabet])).join("");
}

function randomBytes(random: Random, max: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: Math.floor(random() * max) }, () => Math.floor(random() * 256));
}

function mutate(random: Random, value: string): string {
  if (value.length === 0) return randomText(random, 8);
  const i = Math.floor(random() * value.length);
  switch (Math.floor(random() * 4)) {
    case 0:
      return value.slice(0, i) + value.slice(i + 1);
    case 1:
      return value.slice(0, i) + randomText(random, 4) + value.slice(i);
    case 2:
      return value.slice(0, i);
    default:
      return value.slice(0, i) + String.fromCharCode(value.charCodeAt(i) ^ 1) + value.slice(i + 1);
  }
}

/** Header values are byte strings: anything beyond Latin-1 becomes "?". */
function headerValue(value: string): string {
  return value.replace(/[^\x20-\xff]/g, "?").trim();
}

interface Fuzzed {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

/** A correctly signed request, then damaged in one or more places. */
async function mutatedSigned(random: Random, base: string, keys: CryptoKeyPair): Promise<Fuzzed> {
  const vault = await vaultIdOfKeys(keys);
  const method = pick(random, ["POST", "GET", "DELETE"]);
  const path = pick(random, ["/envelopes", "/ack", ""]);
  const url = new URL(`/v3/vaults/${vault}${path}`, base);
  if (random() < 0.3) {
    url.searchParams.set(pick(random, ["wait", "after", "limit", "to"]), randomText(random, 6));
  }
  const body = method === "POST" ? randomBytes(random, 2048) : undefined;
  const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "fuzzer" });
  await signRequest({ method, url, headers, body }, { privateKey: keys.privateKey, keyid: vault });
  const target = pick(random, [
    "signature",
    "signature-input",
    "content-digest",
    "x-vaultmesh-device",
    "path",
    "body",
    "none",
  ]);
  if (target === "path") url.pathname = mutate(random, url.pathname);
  else if (target === "body" && body) body[0] = (body[0] ?? 0) ^ 0xff;
  else if (target !== "none" && target !== "body") {
    headers.set(target, headerValue(mutate(random, headers.get(target) ?? "")));
  }
  return { method, url, headers, body: body ?? null };
}

function randomRequest(random: Random, base: string, vault: string): Fuzzed {
  const method = pick(random, ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
  const paths = [
    "/",
    "/health",
    `/v3/vaults/${vault}`,
    `/v3/vaults/${vault}/envelopes`,
    `/v3/vaults/${vault}/ack`,
    `/v3/vaults/${randomText(random, 60)}/envelopes`,
    `/v3/${randomText(random, 20)}`,
    `/${randomText(random, 200)}`,
    "/v3/vaults/%00/envelopes",
    "/v3/vaults/../../etc/passwd",
  ];
  const url = new URL(base);
  url.pathname = pick(random, paths);
  if (random() < 0.4) url.search = `?${randomText(random, 40)}`;
  const headers = new Headers();
  if (random() < 0.8) {
    headers.set(
      "x-vaultmesh-protocol",
      headerValue(pick(random, ["3", "2", "", randomText(random, 5)])),
    );
  }
  for (
    const name of [
      "signature",
      "signature-input",
      "content-digest",
      "x-vaultmesh-device",
      "idempotency-key",
      "content-type",
      "content-length-ish",
    ]
  ) {
    if (random() < 0.3) headers.set(name, headerValue(randomText(random, 120)));
  }
  if (random() < 0.2) {
    headers.set(
      "signature-input",
      `sig1=("@method" "@path");created=${
        Math.floor(random() * 2e9)
      };keyid="${vault}";alg="ed25519";nonce="${headerValue(randomText(random, 30))}"`,
    );
    headers.set("signature", `sig1=:${randomBytes(random, 64).toBase64()}:`);
  }
  const canHaveBody = method !== "GET" && method !== "HEAD";
  const body = canHaveBody && random() < 0.6
    ? random() < 0.5 ? randomBytes(random, 4096) : bytes(
      pick(random, [
        '{"seq":-1}',
        '{"seq":1e308}',
        "[]",
        "null",
        '{"seq":"1"}',
        randomText(random, 100),
      ]),
    )
    : null;
  return { method, url, headers, body };
}

async function send(request: Fuzzed): Promise<number | undefined> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  } catch (error) {
    // Some junk is refused by fetch itself before it reaches the relay.
    if (error instanceof TypeError) return undefined;
    throw error;
  }
  await response.body?.cancel();
  return response.status;
}

async function roundTrip(sender: RelayClient, receiver: RelayClient, label: string): Promise<void> {
  const { seq } = await sender.send(bytes(label));
  const page = await receiver.backlog({ after: seq - 1 });
  assert.equal(text(page.envelopes[0]!.body), label);
  await receiver.ack(seq);
}

/** Raw bytes straight onto a TCP connection: Deno's HTTP layer must shrug them off. */
async function rawGarbage(random: Random, port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const line = pick(random, [
    "GET / HTTP/1.1\r\n",
    "POST /v3/vaults/x HTTP/9.9\r\n",
    "\x00\x01\x02",
    "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
  ]);
  try {
    await conn.write(new TextEncoder().encode(line));
    await conn.write(randomBytes(random, 512));
    await conn.write(new TextEncoder().encode("\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
  } catch {
    // The relay may hang up on garbage; that is the point.
  } finally {
    conn.close();
  }
}

Deno.test(`the relay never answers 5xx to random and mutated requests (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
  const random = mulberry32(SEED);
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    rateLimitIp: null,
    rateLimitVault: null,
    maxEnvelope: 4096,
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const statuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const request = random() < 0.5
      ? await mutatedSigned(random, relay.url, keys)
      : randomRequest(random, relay.url, vault);
    const status = await send(request);
    if (status !== undefined) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.ok(
      status === undefined || status < 500,
      `request ${i} (${request.method} ${request.url.pathname}) got ${status}; seed ${SEED}`,
    );
    if (i % 50 === 0) await roundTrip(laptop!, phone!, `during ${i}`);
    if (i % 40 === 0) await rawGarbage(random, relay.address.port);
  }
  console.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  assert.ok(statuses.size >= 5, "the run exercised several kinds of answers");
  const health = await fetch(`${relay.url}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  await roundTrip(phone!, laptop!, "after the run");
});
