/**
 * Worked test vectors of protocol 3, printed for `docs/PROTOCOL.md`: a vault key from a fixed
 * seed, one fully signed HTTP request with its signature base, and one socket challenge answer.
 * Ed25519 is deterministic, so the output never changes; `tests/protocol_doc_test.ts` checks
 * that every block appears verbatim in the document.
 *
 *     npx --yes deno@2.9.6 run scripts/protocol_vectors.ts
 *
 * @module
 */
import { signRequest, vaultIdOfKeys, vaultKeysFromSeed } from "../lib/client/mod.ts";
import {
  encodeEnvelopeFrame,
  encodeSendFrame,
  socketAuthMessage,
} from "../lib/protocol/socket_frames.ts";
import { authorityOf } from "../lib/protocol/signature_base.ts";

/** The fixed inputs of the vectors. */
export const VECTOR_INPUTS = {
  /** Seed bytes 0, 1, …, 31. */
  seed: Uint8Array.from({ length: 32 }, (_, i) => i),
  relay: "https://relay.example.org",
  device: "laptop",
  recipient: "phone",
  idempotencyKey: "op-0001",
  body: "hello, vault",
  /** 2026-01-01T00:00:00Z. */
  created: 1767225600,
  nonce: "bm9uY2Utbm9uY2Utbm9uY2U",
  /** The challenge the relay would send (base64url of 32 bytes 0xAA). */
  challenge: new Uint8Array(32).fill(0xaa).toBase64({ alphabet: "base64url", omitPadding: true }),
} as const;

/** One titled block of vector text, as it appears in the document's code blocks. */
export interface VectorBlock {
  readonly title: string;
  readonly text: string;
}

/** Computes the vector blocks. */
export async function protocolVectors(): Promise<VectorBlock[]> {
  const input = VECTOR_INPUTS;
  const keys = await vaultKeysFromSeed(input.seed);
  const vaultId = await vaultIdOfKeys(keys);
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));

  const url = new URL(`/v3/vaults/${vaultId}/envelopes`, input.relay);
  url.searchParams.set("to", input.recipient);
  const body = new TextEncoder().encode(input.body);
  const headers = new Headers({
    "x-vaultmesh-protocol": "3",
    "x-vaultmesh-device": input.device,
    "content-type": "application/octet-stream",
    "idempotency-key": input.idempotencyKey,
  });
  const signed = await signRequest(
    { method: "POST", url, headers, body },
    { privateKey: keys.privateKey, keyid: vaultId, created: input.created, nonce: input.nonce },
  );
  const hex = (bytes: Uint8Array) =>
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const request = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    ...[...headers].map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.byteLength}`,
    "",
    input.body,
  ].join("\n");

  const authMessage = socketAuthMessage({
    authority: authorityOf(new URL(input.relay).host),
    challenge: input.challenge,
    vaultId,
    deviceId: input.device,
  });
  const authSignature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", keys.privateKey, authMessage),
  );

  const sendFrame = encodeSendFrame({
    id: 7,
    to: input.recipient,
    idempotencyKey: input.idempotencyKey,
    body,
  });
  const envelopeFrame = encodeEnvelopeFrame({
    seq: 42,
    from: input.device,
    to: input.recipient,
    createdAt: input.created * 1000,
    body,
  });

  return [
    {
      title: "Key",
      text: [
        `seed (hex):        ${hex(input.seed)}`,
        `public key (hex):  ${hex(publicKey)}`,
        `vault id:          ${vaultId}`,
      ].join("\n"),
    },
    { title: "Signed request", text: request },
    { title: "Signature base", text: signed.signatureBase },
    {
      title: "Signature headers",
      text: [`Signature-Input: ${signed.signatureInput}`, `Signature: ${signed.signature}`].join(
        "\n",
      ),
    },
    {
      title: "Socket auth message",
      text: new TextDecoder().decode(authMessage),
    },
    {
      title: "Socket auth answer",
      text: JSON.stringify({ type: "auth", signature: authSignature.toBase64() }),
    },
    {
      title: "Send frame",
      text: `send frame (id 7, to phone, key op-0001, body "${input.body}"):\n${hex(sendFrame)}`,
    },
    {
      title: "Envelope frame",
      text: `envelope frame (seq 42, from laptop, to phone, created_at ${
        input.created * 1000
      }, body "${input.body}"):\n${hex(envelopeFrame)}`,
    },
  ];
}

if (import.meta.main) {
  for (const block of await protocolVectors()) {
    console.log(`--- ${block.title}\n${block.text}\n`);
  }
}
