/**
 * Malformed input for the abuse scenario: the hand-written cases of issue 13 (bad `Host`
 * headers, an upgrade without its headers) as exact bytes, and a seeded fuzz corpus built like
 * the one of `tests/fuzz_test.ts` (whose generators are private to that test): random requests,
 * correctly signed requests damaged in one place, and raw garbage on a TCP connection.
 *
 * @module
 */
import { signRequest, vaultIdOfKeys } from "../../lib/client/mod.ts";

/** A seeded PRNG (mulberry32), so a corpus can be replayed. */
export function mulberry32(seed: number): () => number {
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
  return Array.from({ length: Math.floor(random() * max) }, () => pick(random, [...alphabet]))
    .join("");
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

/** A request of the corpus, for fetch. */
export interface FuzzRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

async function mutatedSigned(random: Random, base: string, keys: CryptoKeyPair) {
  const vault = await vaultIdOfKeys(keys);
  const method = pick(random, ["POST", "GET", "DELETE", "PUT"]);
  const path = pick(random, ["/envelopes", "/ack", "", "/presence"]);
  const url = new URL(`/v3/vaults/${vault}${path}`, base);
  if (random() < 0.3) {
    url.searchParams.set(
      pick(random, ["wait", "after", "limit", "to", "ttl"]),
      randomText(random, 6),
    );
  }
  const body = method === "POST" || method === "PUT" ? randomBytes(random, 2048) : undefined;
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

function randomRequest(random: Random, base: string, vault: string): FuzzRequest {
  const method = pick(random, ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
  const url = new URL(base);
  url.pathname = pick(random, [
    "/",
    "/health",
    "/v3/address",
    `/v3/vaults/${vault}`,
    `/v3/vaults/${vault}/envelopes`,
    `/v3/vaults/${vault}/ack`,
    `/v3/vaults/${vault}/presence`,
    `/v3/vaults/${vault}/socket`,
    `/v3/vaults/${randomText(random, 60)}/envelopes`,
    `/v3/${randomText(random, 20)}`,
    `/${randomText(random, 200)}`,
    "/v3/vaults/%00/envelopes",
    "/v3/vaults/../../etc/passwd",
  ]);
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
      "upgrade",
      "x-forwarded-for",
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
    ? random() < 0.5 ? randomBytes(random, 4096) : new TextEncoder().encode(
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

/** `count` requests of the corpus for the relay at `base`, half of them signed and damaged. */
export async function fuzzCorpus(
  options: { seed: number; count: number; base: string; keys: CryptoKeyPair },
): Promise<FuzzRequest[]> {
  const random = mulberry32(options.seed);
  const vault = await vaultIdOfKeys(options.keys);
  const corpus: FuzzRequest[] = [];
  for (let i = 0; i < options.count; i++) {
    corpus.push(
      random() < 0.5
        ? await mutatedSigned(random, options.base, options.keys)
        : randomRequest(random, options.base, vault),
    );
  }
  return corpus;
}

/** Raw garbage for a TCP connection: broken request lines and random bytes. */
export function garbage(random: Random): Uint8Array {
  const line = pick(random, [
    "GET / HTTP/1.1\r\n",
    "POST /v3/vaults/x HTTP/9.9\r\n",
    "\x00\x01\x02",
    "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
  ]);
  const head = new TextEncoder().encode(line);
  const tail = randomBytes(random, 512);
  const bytes = new Uint8Array(head.length + tail.length + 4);
  bytes.set(head);
  bytes.set(tail, head.length);
  bytes.set([13, 10, 13, 10], head.length + tail.length);
  return bytes;
}

/**
 * The hand-written cases of issue 13, as exact request bytes (fetch would refuse to send them):
 * each bad `Host` on an open path, a signed-path and the address endpoint, and a WebSocket
 * upgrade without `Connection` and `Sec-WebSocket-Key`.
 */
export function malformedCases(port: number, vault: string): { name: string; request: string }[] {
  const hosts = ["[::1", "a b", "x:99999"];
  const paths = ["/health", `/v3/vaults/${vault}/envelopes`, "/v3/address", "/"];
  const cases: { name: string; request: string }[] = [];
  for (const host of hosts) {
    for (const path of paths) {
      cases.push({
        name: `Host: ${host} ${path.replace(vault, "{vault}")}`,
        request: `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-VaultMesh-Protocol: 3\r\n` +
          `X-VaultMesh-Device: d\r\nConnection: close\r\n\r\n`,
      });
    }
  }
  cases.push({
    name: "Upgrade: websocket alone",
    request: `GET /v3/vaults/${vault}/socket?device=d HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      `X-VaultMesh-Protocol: 3\r\nUpgrade: websocket\r\n\r\n`,
  }, {
    name: "Upgrade: websocket with Connection: Upgrade, no key",
    request: `GET /v3/vaults/${vault}/socket?device=d HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      `X-VaultMesh-Protocol: 3\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
  }, {
    name: "Upgrade: websocket on /health",
    request: `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n\r\n`,
  });
  return cases;
}
