/**
 * Worked test vectors of protocol 3, printed for `docs/PROTOCOL.md`: a vault key from a fixed
 * seed, a fully signed send and a signed request without a query with their signature bases, the
 * digest of an empty body, how the query components look for each kind of request target, two
 * requests the relay refuses (no `alg`; the device header covered but absent), one socket
 * challenge answer and the binary frames. Ed25519 is deterministic, so the output never changes;
 * `tests/protocol_doc_test.ts` checks that every block appears verbatim in the document and runs
 * every request through the relay's verifier.
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
import {
  BACKLOG_FRAMES_TYPE,
  backlogPageHeaders,
  encodeBacklogPage,
} from "../lib/protocol/backlog_page.ts";
import { BACKLOG_PACKED_TYPE, encodePackedPage } from "../lib/protocol/packed_page.ts";
import {
  authorityOf,
  componentValue,
  contentDigest,
  REQUIRED_COMPONENTS,
  signatureBase,
} from "../lib/protocol/signature_base.ts";
import { type InnerList, serializeInnerList } from "structured-headers";

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
  /** The nonce of the request without a query and of the refused requests. */
  otherNonce: "b3RoZXItbm9uY2Utb3RoZXI",
  /** The challenge the relay would send (base64url of 32 bytes 0xAA). */
  challenge: new Uint8Array(32).fill(0xaa).toBase64({ alphabet: "base64url", omitPadding: true }),
} as const;

/** A request of the vectors, with the relay's answer the document states for it. */
export interface RequestVector {
  readonly method: string;
  /** The URL as the client builds it (`https://relay.example.org/…`). */
  readonly url: URL;
  readonly headers: Headers;
  readonly body?: Uint8Array<ArrayBuffer>;
  /** `accepted`, or the status and error code the relay answers. */
  readonly answer: "accepted" | { readonly status: number; readonly code: string };
}

/** One titled block of vector text, as it appears in the document's code blocks. */
export interface VectorBlock {
  readonly title: string;
  readonly text: string;
  /** The request the block shows, for blocks that show one. */
  readonly request?: RequestVector;
}

/** The request as sent: request line, `Host`, the headers (lower-case, sorted), body. */
function requestText(request: RequestVector): string {
  const { url, body } = request;
  return [
    `${request.method} ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    ...[...request.headers].map(([name, value]) => `${name}: ${value}`),
    ...(body ? [`content-length: ${body.byteLength}`, "", new TextDecoder().decode(body)] : []),
  ].join("\n");
}

/**
 * Signs `request` over `components` with parameters in the given order (`alg` may be left out),
 * the way a client that gets them wrong would. Returns the signature base.
 */
async function signWith(
  request: { readonly method: string; readonly url: URL; readonly headers: Headers },
  signing: {
    readonly privateKey: CryptoKey;
    readonly components: readonly string[];
    readonly params: ReadonlyMap<string, string | number>;
  },
): Promise<string> {
  const list: InnerList = [
    signing.components.map((name) => [name, new Map()]),
    new Map(signing.params),
  ];
  const paramsText = serializeInnerList(list);
  const base = signatureBase(request, signing.components, paramsText);
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", signing.privateKey, new TextEncoder().encode(base)),
  );
  request.headers.set("signature-input", `sig1=${paramsText}`);
  request.headers.set("signature", `sig1=:${signature.toBase64()}:`);
  return base;
}

/** The two envelopes of the worked pages: the envelope frame's, and a broadcast. */
function pageEnvelopes(input: typeof VECTOR_INPUTS) {
  const created = input.created * 1000;
  return [
    {
      seq: 42,
      from: input.device,
      to: input.recipient,
      createdAt: created,
      body: new TextEncoder().encode(input.body),
    },
    {
      seq: 43,
      from: "tablet",
      to: null,
      createdAt: created + 1,
      body: new Uint8Array([0x6f, 0x6b]),
    },
  ];
}

/** The page's envelopes as a line each, then the answer's status line and headers. */
function pageAnswerHead(input: typeof VECTOR_INPUTS, type: string, page: Uint8Array): string[] {
  const created = input.created * 1000;
  const headers = {
    "content-type": type,
    ...backlogPageHeaders({ acked: 41, latestSeq: 44, more: true }),
    "content-length": String(page.byteLength),
  };
  return [
    `page: seq 42 from laptop to phone, created_at ${created}, body "${input.body}";`,
    `      seq 43 from tablet to every device, created_at ${created + 1}, body "ok"`,
    "HTTP/1.1 200 OK",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    "",
  ];
}

/**
 * A binary backlog page of the two envelopes: the answer's headers, then the body in hex, one
 * frame per line after its u32 length.
 */
function backlogPageVector(input: typeof VECTOR_INPUTS): string {
  const page = encodeBacklogPage(pageEnvelopes(input));
  const frames = [];
  for (let at = 0; at < page.byteLength;) {
    const length = new DataView(page.buffer).getUint32(at);
    frames.push(
      `${page.subarray(at, at + 4).toHex()} ${page.subarray(at + 4, at + 4 + length).toHex()}`,
    );
    at += 4 + length;
  }
  return [...pageAnswerHead(input, BACKLOG_FRAMES_TYPE, page), ...frames].join("\n");
}

/** The same two envelopes as a packed page: the body in hex, one record per line. */
function packedPageVector(input: typeof VECTOR_INPUTS): string {
  const envelopes = pageEnvelopes(input);
  const page = encodePackedPage(envelopes);
  const first = encodePackedPage(envelopes.slice(0, 1)).byteLength;
  return [
    ...pageAnswerHead(input, BACKLOG_PACKED_TYPE, page),
    page.subarray(0, first).toHex(),
    page.subarray(first).toHex(),
  ].join("\n");
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
  const request = requestText({ method: "POST", url, headers, body, answer: "accepted" });

  // A request without a query: "@query" is "?".
  const backlogUrl = new URL(`/v3/vaults/${vaultId}/envelopes`, input.relay);
  const backlog: RequestVector = {
    method: "GET",
    url: backlogUrl,
    headers: new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": input.device }),
    answer: "accepted",
  };
  const backlogSigned = await signRequest(backlog, {
    privateKey: keys.privateKey,
    keyid: vaultId,
    created: input.created,
    nonce: input.otherNonce,
  });

  // What the relay computes for the query components, for three spellings of one target. It
  // builds the URL from the connection it receives: behind a TLS proxy that is plain HTTP.
  const queryLines = [];
  for (
    const target of [
      backlogUrl.pathname,
      `${backlogUrl.pathname}?`,
      `${backlogUrl.pathname}?after=16`,
    ]
  ) {
    const seen = {
      method: "GET",
      url: new URL(`http://${backlogUrl.host}${target}`),
      headers: new Headers(),
    };
    queryLines.push(
      `GET ${target} HTTP/1.1`,
      ...["@path", "@query", "@request-target", "@target-uri"].map((name) =>
        `  "${name}": ${componentValue(seen, name)}`
      ),
    );
  }

  // Refused: Signature-Input without alg.
  const noAlg: RequestVector = {
    method: "GET",
    url: backlogUrl,
    headers: new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": input.device }),
    answer: { status: 401, code: "signature_algorithm" },
  };
  await signWith(noAlg, {
    privateKey: keys.privateKey,
    components: REQUIRED_COMPONENTS,
    params: new Map<string, string | number>([
      ["created", input.created],
      ["keyid", vaultId],
      ["nonce", input.otherNonce],
    ]),
  });

  // Refused: x-vaultmesh-device covered (as it must be) but not sent. No signature base exists
  // without the header; the relay answers before it would compute one.
  const noDevice: RequestVector = {
    method: "GET",
    url: backlogUrl,
    headers: new Headers({ "x-vaultmesh-protocol": "3" }),
    answer: { status: 400, code: "bad_device" },
  };
  noDevice.headers.set(
    "signature-input",
    `sig1=${
      serializeInnerList([
        REQUIRED_COMPONENTS.map((name) => [name, new Map()]),
        new Map<string, string | number>([
          ["created", input.created],
          ["keyid", vaultId],
          ["alg", "ed25519"],
          ["nonce", input.otherNonce],
        ]),
      ])
    }`,
  );
  noDevice.headers.set("signature", `sig1=:${new Uint8Array(64).toBase64()}:`);
  const refused = (vector: RequestVector) => {
    const answer = vector.answer as { status: number; code: string };
    return `${requestText(vector)}\n\nrelay answers: ${answer.status} ${answer.code}`;
  };

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
    {
      title: "Signed request",
      text: request,
      request: { method: "POST", url, headers, body, answer: "accepted" },
    },
    { title: "Signature base", text: signed.signatureBase },
    {
      title: "Signature headers",
      text: [`Signature-Input: ${signed.signatureInput}`, `Signature: ${signed.signature}`].join(
        "\n",
      ),
    },
    {
      title: "Empty body digest",
      text: `Content-Digest of the empty body (0 bytes): ${await contentDigest(new Uint8Array())}`,
    },
    { title: "Request without a query", text: requestText(backlog), request: backlog },
    { title: "Request without a query: signature base", text: backlogSigned.signatureBase },
    { title: "Query components", text: queryLines.join("\n") },
    { title: "Refused: no alg", text: refused(noAlg), request: noAlg },
    {
      title: "Refused: device header covered but absent",
      text: refused(noDevice),
      request: noDevice,
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
    { title: "Binary backlog page", text: backlogPageVector(input) },
    { title: "Packed backlog page", text: packedPageVector(input) },
  ];
}

if (import.meta.main) {
  for (const block of await protocolVectors()) {
    console.log(`--- ${block.title}\n${block.text}\n`);
  }
}
