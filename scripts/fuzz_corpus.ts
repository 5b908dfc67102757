/**
 * A seeded corpus of hostile HTTP input, shared by the fuzz test (`tests/fuzz_test.ts`) and the
 * abuse benchmark (`scripts/bench/_abuse_fuzz.ts`): random requests, correctly signed requests
 * damaged in one place, and raw garbage for a TCP connection. Everything is drawn from one
 * seeded PRNG (mulberry32), so a seed replays the same input; a {@linkcode FuzzVocabulary} says
 * which methods, paths and headers to draw from.
 *
 * @module
 */
import { signRequest } from "../lib/client/mod.ts";

/** A seeded PRNG (mulberry32): numbers in [0, 1), the same for the same seed. */
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

/** A source of random numbers in [0, 1), such as {@linkcode mulberry32}. */
export type Random = ReturnType<typeof mulberry32>;

/** What the corpus draws from. */
export interface FuzzVocabulary {
  /** Methods of the signed requests. */
  readonly signedMethods: readonly string[];
  /** Those of `signedMethods` that carry a random body. */
  readonly bodyMethods: readonly string[];
  /** Paths after `/v3/vaults/<vault>` of the signed requests. */
  readonly signedPaths: readonly string[];
  /** Query parameters a signed request may carry. */
  readonly queryNames: readonly string[];
  /** Paths outside any vault that random requests ask for. */
  readonly openPaths: readonly string[];
  /** Paths after `/v3/vaults/<vault>` that random requests ask for. */
  readonly vaultPaths: readonly string[];
  /** Headers a random request may carry with random values. */
  readonly headerNames: readonly string[];
  /** First lines of the raw garbage. */
  readonly garbageLines: readonly string[];
}

/** The vocabulary of `tests/fuzz_test.ts`. */
export const FUZZ_VOCABULARY: FuzzVocabulary = {
  signedMethods: ["POST", "GET", "DELETE"],
  bodyMethods: ["POST"],
  signedPaths: ["/envelopes", "/ack", ""],
  queryNames: ["wait", "after", "limit", "to"],
  openPaths: ["/", "/health"],
  vaultPaths: ["", "/envelopes", "/ack"],
  headerNames: [
    "signature",
    "signature-input",
    "content-digest",
    "x-vaultmesh-device",
    "idempotency-key",
    "content-type",
    "content-length-ish",
  ],
  garbageLines: [
    "GET / HTTP/1.1\r\n",
    "POST /v3/vaults/x HTTP/9.9\r\n",
    "\x00\x01\x02",
    "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
  ],
};

/** A request of the corpus, for fetch. */
export interface FuzzRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

/** Where the requests go and who signs them. */
export interface FuzzTarget {
  /** The relay's base URL. */
  readonly base: string;
  /** The vault's keys: signed requests are signed with them. */
  readonly keys: CryptoKeyPair;
  /** The vault id of `keys`. */
  readonly vault: string;
}

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

/** A correctly signed request, then damaged in one place (or none). */
async function mutatedSigned(
  random: Random,
  context: { target: FuzzTarget; vocabulary: FuzzVocabulary },
): Promise<FuzzRequest> {
  const { target: { base, keys, vault }, vocabulary } = context;
  const method = pick(random, vocabulary.signedMethods);
  const path = pick(random, vocabulary.signedPaths);
  const url = new URL(`/v3/vaults/${vault}${path}`, base);
  if (random() < 0.3) {
    url.searchParams.set(pick(random, vocabulary.queryNames), randomText(random, 6));
  }
  const body = vocabulary.bodyMethods.includes(method) ? randomBytes(random, 2048) : undefined;
  const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "fuzzer" });
  await signRequest({ method, url, headers, body }, { privateKey: keys.privateKey, keyid: vault });
  const damaged = pick(random, [
    "signature",
    "signature-input",
    "content-digest",
    "x-vaultmesh-device",
    "path",
    "body",
    "none",
  ]);
  if (damaged === "path") url.pathname = mutate(random, url.pathname);
  else if (damaged === "body" && body) body[0] = (body[0] ?? 0) ^ 0xff;
  else if (damaged !== "none" && damaged !== "body") {
    headers.set(damaged, headerValue(mutate(random, headers.get(damaged) ?? "")));
  }
  return { method, url, headers, body: body ?? null };
}

/** A request of random method, path, headers and body, some of them near-valid. */
function randomRequest(
  random: Random,
  context: { target: FuzzTarget; vocabulary: FuzzVocabulary },
): FuzzRequest {
  const { target: { base, vault }, vocabulary } = context;
  const method = pick(random, ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
  const paths = [
    ...vocabulary.openPaths,
    ...vocabulary.vaultPaths.map((path) => `/v3/vaults/${vault}${path}`),
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
  for (const name of vocabulary.headerNames) {
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

/**
 * The next request of the corpus: half of them correctly signed and then damaged, half random.
 *
 * @example
 * ```ts ignore
 * const random = mulberry32(seed);
 * const request = await fuzzRequest(random, { target, vocabulary: FUZZ_VOCABULARY });
 * await fetch(request.url, request);
 * ```
 */
export async function fuzzRequest(
  random: Random,
  context: { target: FuzzTarget; vocabulary: FuzzVocabulary },
): Promise<FuzzRequest> {
  return random() < 0.5 ? await mutatedSigned(random, context) : randomRequest(random, context);
}

/**
 * Raw garbage for a TCP connection, in the pieces to write: a broken request line, random
 * bytes, and the blank line that ends a request head.
 */
export function garbageChunks(random: Random, vocabulary: FuzzVocabulary): Uint8Array[] {
  const line = pick(random, vocabulary.garbageLines);
  return [
    new TextEncoder().encode(line),
    randomBytes(random, 512),
    new TextEncoder().encode("\r\n\r\n"),
  ];
}
