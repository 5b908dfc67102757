/**
 * Malformed input for the abuse scenario: the hand-written cases of issue 13 (bad `Host`
 * headers, an upgrade without its headers) as exact bytes, and the seeded fuzz corpus of
 * `scripts/fuzz_corpus.ts` (the one `tests/fuzz_test.ts` uses) with a wider vocabulary: more
 * methods, paths and headers, and a smuggling-shaped garbage line.
 *
 * @module
 */
import {
  FUZZ_VOCABULARY,
  type FuzzRequest,
  fuzzRequest,
  type FuzzVocabulary,
  garbageChunks,
  mulberry32,
  type Random,
} from "../fuzz_corpus.ts";
import { vaultIdOfKeys } from "../../lib/client/mod.ts";

export { mulberry32 };

/** The fuzz test's vocabulary, widened to the presence, socket and address endpoints. */
const ABUSE_VOCABULARY: FuzzVocabulary = {
  signedMethods: [...FUZZ_VOCABULARY.signedMethods, "PUT"],
  bodyMethods: ["POST", "PUT"],
  signedPaths: [...FUZZ_VOCABULARY.signedPaths, "/presence"],
  queryNames: [...FUZZ_VOCABULARY.queryNames, "ttl"],
  openPaths: [...FUZZ_VOCABULARY.openPaths, "/v3/address"],
  vaultPaths: [...FUZZ_VOCABULARY.vaultPaths, "/presence", "/socket"],
  headerNames: [
    ...FUZZ_VOCABULARY.headerNames.filter((name) => name !== "content-length-ish"),
    "upgrade",
    "x-forwarded-for",
  ],
  garbageLines: [
    ...FUZZ_VOCABULARY.garbageLines,
    "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
  ],
};

/** `count` requests of the corpus for the relay at `base`, half of them signed and damaged. */
export async function fuzzCorpus(
  options: { seed: number; count: number; base: string; keys: CryptoKeyPair },
): Promise<FuzzRequest[]> {
  const random = mulberry32(options.seed);
  const target = {
    base: options.base,
    keys: options.keys,
    vault: await vaultIdOfKeys(options.keys),
  };
  const corpus: FuzzRequest[] = [];
  for (let i = 0; i < options.count; i++) {
    corpus.push(await fuzzRequest(random, { target, vocabulary: ABUSE_VOCABULARY }));
  }
  return corpus;
}

/** Raw garbage for a TCP connection, in one piece: broken request lines and random bytes. */
export function garbage(random: Random): Uint8Array {
  const chunks = garbageChunks(random, ABUSE_VOCABULARY);
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
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
