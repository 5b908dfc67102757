import assert from "node:assert/strict";
import { generateVaultKeys, signRequest, vaultIdOfKeys } from "../lib/client/mod.ts";
import type { Relay } from "../lib/relay.ts";
import { contentDigest } from "../lib/protocol/signature_base.ts";
import { bytes, rawRequest, startRelay, tempDir } from "./_helpers.ts";

interface Attempt {
  method?: string;
  path?: string;
  body?: Uint8Array<ArrayBuffer>;
  created?: number;
  nonce?: string;
  signingKeys?: CryptoKeyPair;
  /** Changes the request after signing. */
  tamper?: (
    request: { url: URL; headers: Headers; body?: Uint8Array<ArrayBuffer> | undefined },
  ) => void;
}

async function attempt(relay: Relay, keys: CryptoKeyPair, options: Attempt = {}) {
  const vaultId = await vaultIdOfKeys(keys);
  const url = new URL(`${relay.url}/v3/vaults/${vaultId}${options.path ?? "/envelopes"}`);
  const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "laptop" });
  const method = options.method ?? "POST";
  const request = {
    method,
    url,
    headers,
    body: options.body ?? (method === "POST" ? bytes("x") : undefined),
  };
  await signRequest(request, {
    privateKey: (options.signingKeys ?? keys).privateKey,
    keyid: vaultId,
    ...(options.created === undefined ? {} : { created: options.created }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  });
  options.tamper?.(request);
  const response = await fetch(request.url, { method, headers, body: request.body ?? null });
  return { status: response.status, ...(await response.json()) };
}

async function withRelay(test: (relay: Relay, keys: CryptoKeyPair) => Promise<void>) {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  await test(relay, await generateVaultKeys());
}

Deno.test("auth accepts a correctly signed request", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys);
    assert.equal(result.status, 201, JSON.stringify(result));
  }));

Deno.test("auth refuses a request signed with another key: 401 signature_invalid", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, { signingKeys: await generateVaultKeys() });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_invalid");
  }));

Deno.test("auth refuses vault A's signature on vault B's path: 403 wrong_vault", () =>
  withRelay(async (relay, keys) => {
    const otherVault = await vaultIdOfKeys(await generateVaultKeys());
    const result = await attempt(relay, keys, {
      tamper: (request) => {
        request.url.pathname = `/v3/vaults/${otherVault}/envelopes`;
      },
    });
    assert.equal(result.status, 403);
    assert.equal(result.error, "wrong_vault");
  }));

Deno.test("auth refuses an altered body: 401 digest_mismatch", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, {
      body: bytes("original"),
      tamper: (request) => {
        request.body = bytes("tampered");
      },
    });
    assert.equal(result.status, 401);
    assert.equal(result.error, "digest_mismatch");
  }));

Deno.test("auth refuses a body with a recomputed digest: 401 signature_invalid", () =>
  withRelay(async (relay, keys) => {
    const tampered = bytes("tampered");
    const digest = await contentDigest(tampered);
    const result = await attempt(relay, keys, {
      body: bytes("original"),
      tamper: (request) => {
        request.body = tampered;
        request.headers.set("content-digest", digest);
      },
    });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_invalid");
  }));

Deno.test("auth refuses an altered path or query: 401 signature_invalid", () =>
  withRelay(async (relay, keys) => {
    const path = await attempt(relay, keys, {
      method: "GET",
      path: "/envelopes",
      tamper: (request) => {
        request.url.pathname = request.url.pathname.replace("/envelopes", "");
      },
    });
    assert.equal(path.status, 401);
    assert.equal(path.error, "signature_invalid");
    const query = await attempt(relay, keys, {
      path: "/envelopes?to=phone",
      tamper: (request) => request.url.searchParams.set("to", "tablet"),
    });
    assert.equal(query.status, 401);
    assert.equal(query.error, "signature_invalid");
  }));

Deno.test("auth refuses a stale signature: 401 signature_expired", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, { created: Math.floor(Date.now() / 1000) - 120 });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_expired");
  }));

Deno.test("auth refuses a future-dated signature: 401 signature_future", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, { created: Math.floor(Date.now() / 1000) + 120 });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_future");
  }));

Deno.test("auth refuses a replayed nonce: 401 signature_replayed", () =>
  withRelay(async (relay, keys) => {
    const nonce = "replay-me-0123456789";
    assert.equal((await attempt(relay, keys, { nonce })).status, 201);
    const again = await attempt(relay, keys, { nonce });
    assert.equal(again.status, 401);
    assert.equal(again.error, "signature_replayed");
  }));

Deno.test("auth refuses missing signature headers: 401 signature_missing", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, {
      tamper: (request) => {
        request.headers.delete("signature");
        request.headers.delete("signature-input");
      },
    });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_missing");
  }));

Deno.test("auth refuses a signature that does not cover the device and digest: 401 signature_incomplete", () =>
  withRelay(async (relay, keys) => {
    const result = await attempt(relay, keys, {
      tamper: (request) => {
        const input = request.headers.get("signature-input")!;
        request.headers.set(
          "signature-input",
          input.replace(' "x-vaultmesh-device"', "").replace(' "content-digest"', ""),
        );
      },
    });
    assert.equal(result.status, 401);
    assert.equal(result.error, "signature_incomplete");
    assert.match(result.message, /"x-vaultmesh-device", "content-digest"/);
  }));

Deno.test("auth refuses garbage signature headers and other algorithms with precise codes", () =>
  withRelay(async (relay, keys) => {
    const garbage = await attempt(relay, keys, {
      tamper: (request) => request.headers.set("signature-input", "sig1=(((("),
    });
    assert.equal(garbage.status, 401);
    assert.equal(garbage.error, "signature_malformed");
    const rsa = await attempt(relay, keys, {
      tamper: (request) =>
        request.headers.set(
          "signature-input",
          request.headers.get("signature-input")!.replace('alg="ed25519"', 'alg="rsa-pss-sha512"'),
        ),
    });
    assert.equal(rsa.status, 401);
    assert.equal(rsa.error, "signature_algorithm");
  }));

Deno.test("auth refuses a malformed vault id and device label with 400", () =>
  withRelay(async (relay, keys) => {
    const vault = await attempt(relay, keys, {
      tamper: (request) => {
        request.url.pathname = "/v3/vaults/not-a-key/envelopes";
      },
    });
    assert.equal(vault.status, 400);
    assert.equal(vault.error, "bad_vault_id");
    const device = await attempt(relay, keys, {
      tamper: (request) => request.headers.set("x-vaultmesh-device", "bad device!"),
    });
    assert.equal(device.status, 400);
    assert.equal(device.error, "bad_device");
  }));

Deno.test("with --public-url, a signature made for another host is refused: 421 wrong_authority", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    publicUrl: new URL("https://relay-a.example"),
  });
  const keys = await generateVaultKeys();
  const vault = await vaultIdOfKeys(keys);
  // fetch cannot set Host, so the signed request is written by hand as a proxy would pass it.
  const signedFor = async (host: string) => {
    const url = new URL(`https://${host}/v3/vaults/${vault}`);
    const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "laptop" });
    await signRequest({ method: "GET", url, headers }, {
      privateKey: keys.privateKey,
      keyid: vault,
    });
    const lines = [...headers].map(([name, value]) => `${name}: ${value}`);
    return await rawRequest(
      relay.url,
      `GET /v3/vaults/${vault} HTTP/1.1\r\nhost: ${host}\r\n${lines.join("\r\n")}\r\n\r\n`,
    );
  };
  const other = await signedFor("relay-b.example");
  assert.equal(other.status, 421);
  assert.equal(JSON.parse(other.body).error, "wrong_authority");
  assert.equal(JSON.parse(other.body).expected, "relay-a.example");
  assert.equal((await signedFor("relay-a.example")).status, 200);
  const socket = await rawRequest(
    relay.url,
    `GET /v3/vaults/${vault}/socket?device=laptop HTTP/1.1\r\nhost: relay-b.example\r\n` +
      "x-vaultmesh-protocol: 3\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
  );
  assert.equal(socket.status, 421, "a socket for another host is refused before the upgrade");
});
