/**
 * Keeps `docs/PROTOCOL.md` from drifting: the worked vectors must appear verbatim, must verify
 * with the relay's own verifier, and every error code the relay can answer must be in the
 * document's error table.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Authenticator } from "../lib/http/signatures.ts";
import { ERROR_STATUS } from "../lib/protocol/errors.ts";
import { NonceCache } from "../lib/guard/nonce_cache.ts";
import { VaultKeys } from "../lib/guard/vault_keys.ts";
import { ManualClock } from "../lib/clock.ts";
import { protocolVectors, VECTOR_INPUTS } from "../scripts/protocol_vectors.ts";
import { signRequest, vaultIdOfKeys, vaultKeysFromSeed } from "../lib/client/mod.ts";

const root = new URL("../", import.meta.url);
const doc = Deno.readTextFileSync(new URL("docs/PROTOCOL.md", root));

Deno.test("every worked vector appears verbatim in docs/PROTOCOL.md", async () => {
  for (const block of await protocolVectors()) {
    assert.ok(
      doc.includes(block.text),
      `docs/PROTOCOL.md lacks the "${block.title}" vector; rerun scripts/protocol_vectors.ts:\n` +
        block.text,
    );
  }
});

Deno.test("the worked request vector verifies with the relay's verifier", async () => {
  const input = VECTOR_INPUTS;
  const keys = await vaultKeysFromSeed(input.seed);
  const vaultId = await vaultIdOfKeys(keys);
  const url = new URL(`/v3/vaults/${vaultId}/envelopes?to=${input.recipient}`, input.relay);
  const body = new TextEncoder().encode(input.body);
  const headers = new Headers({
    "x-vaultmesh-protocol": "3",
    "x-vaultmesh-device": input.device,
    "idempotency-key": input.idempotencyKey,
  });
  await signRequest(
    { method: "POST", url, headers, body },
    { privateKey: keys.privateKey, keyid: vaultId, created: input.created, nonce: input.nonce },
  );
  const clock = new ManualClock(input.created * 1000);
  const auth = new Authenticator(
    clock,
    new NonceCache(clock, { perVault: 100, perAddress: 100, total: 100 }),
    new VaultKeys(10),
  );
  const caller = await auth.verify({ method: "POST", url, headers }, {
    vaultId,
    hasBody: true,
    address: "192.0.2.1",
  });
  assert.deepEqual(caller, { vaultId, deviceId: input.device, address: "192.0.2.1" });
  await auth.verifyBody(headers, body);
  // The documented signature is the one the relay accepted.
  assert.ok(doc.includes(`Signature: ${headers.get("signature")}`));
});

Deno.test("every error code of the relay is in the error table of docs/PROTOCOL.md with its status", () => {
  const tableRows = doc.split("\n").filter((line) => line.startsWith("| `"));
  const documented = new Map(
    tableRows.map((line) => {
      const [, code, status] = /^\| `([a-z_]+)` *\| *(\w+)/.exec(line) ?? [];
      return [code, status];
    }),
  );
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    assert.ok(documented.has(code), `undocumented error code ${code}`);
    assert.equal(documented.get(code), status === 0 ? "socket" : String(status), code);
  }
});

Deno.test("the worked socket answer verifies over the documented auth message", async () => {
  const blocks = new Map((await protocolVectors()).map((block) => [block.title, block.text]));
  const keys = await vaultKeysFromSeed(VECTOR_INPUTS.seed);
  const answer = JSON.parse(blocks.get("Socket auth answer")!);
  const message = new TextEncoder().encode(blocks.get("Socket auth message")!);
  assert.ok(
    await crypto.subtle.verify(
      "Ed25519",
      keys.publicKey,
      Uint8Array.fromBase64(answer.signature),
      message,
    ),
  );
});
