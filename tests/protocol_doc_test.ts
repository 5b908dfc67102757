/**
 * Keeps `docs/PROTOCOL.md` true to the relay: the worked vectors appear verbatim and each request
 * gets the stated answer from the relay's own verifier; every signature base, `Content-Digest` and
 * query-component example in the document is recomputed from its request with the relay's code;
 * the error and close-code tables list exactly what the relay sends; and the rules a client
 * author would otherwise guess (`more`, `HEAD` and `Allow`, socket idempotency keys, stateless
 * mode's database file) are tried against a running relay.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type InnerList, parseDictionary, serializeInnerList } from "structured-headers";
import { Authenticator } from "../lib/http/signatures.ts";
import { ERROR_STATUS, ProtocolError } from "../lib/protocol/errors.ts";
import { CLOSE, WEBSOCKET_FAILURE } from "../lib/protocol/close_codes.ts";
import {
  componentValue,
  contentDigest,
  signatureBase,
  type SignedMessage,
} from "../lib/protocol/signature_base.ts";
import { NonceCache } from "../lib/guard/nonce_cache.ts";
import { VaultKeys } from "../lib/guard/vault_keys.ts";
import { ManualClock } from "../lib/clock.ts";
import { freePort } from "../scripts/relay_process.ts";
import { protocolVectors, type RequestVector, VECTOR_INPUTS } from "../scripts/protocol_vectors.ts";
import { RelayError, vaultIdOfKeys, vaultKeysFromSeed } from "../lib/client/mod.ts";
import { bytes, PROTOCOL_3, startRelay, tempDir, vaultDevices } from "./_helpers.ts";

const root = new URL("../", import.meta.url);
const doc = Deno.readTextFileSync(new URL("docs/PROTOCOL.md", root));

/** A fenced block of the document: its info string, its text and the line it starts on. */
interface Fence {
  readonly info: string;
  readonly text: string;
  readonly line: number;
}

function fences(markdown: string): Fence[] {
  const found: Fence[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent));
    found.push({ info: open[2]!, text: body.join("\n"), line: i + 1 });
    i = j;
  }
  return found;
}

/** An HTTP request written out in the document: request line, headers, blank line, body. */
interface WrittenRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: Headers;
  readonly body: string | undefined;
}

function parseRequest(text: string): WrittenRequest | undefined {
  const [head, ...rest] = text.split("\n\n");
  const [requestLine, ...headerLines] = head!.split("\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(requestLine ?? "");
  if (!match) return undefined;
  const headers = new Headers();
  for (const line of headerLines) {
    if (!/^[A-Za-z0-9-]+: /.test(line)) return undefined;
    const at = line.indexOf(":");
    const value = line.slice(at + 1).trim();
    // An example with elided values (`…`) is shown, not sent: leave such headers out.
    if (!value.includes("…")) headers.append(line.slice(0, at).trim(), value);
  }
  return {
    method: match[1]!,
    target: match[2]!,
    headers,
    body: rest.length > 0 ? rest.join("\n\n") : undefined,
  };
}

/** The message the relay sees for a written request: it rebuilds the URL as http://Host/target. */
function asReceived(request: WrittenRequest): SignedMessage {
  return {
    method: request.method,
    url: new URL(`http://${request.headers.get("host")}${request.target}`),
    headers: request.headers,
  };
}

/** Components and serialized parameters of a Signature-Input value, as the relay reads them. */
function signatureInput(value: string): { components: string[]; paramsText: string } {
  const [, member] = [...parseDictionary(value)][0]!;
  const list = member as InnerList;
  return {
    components: list[0].map(([name]) => name as string),
    paramsText: serializeInnerList(list),
  };
}

function verifier(created: number): Authenticator {
  const clock = new ManualClock(created * 1000);
  return new Authenticator(
    clock,
    new NonceCache(clock, { perVault: 100, perAddress: 100, total: 100 }),
    new VaultKeys(10),
  );
}

/** The relay's answer to a request vector: accepted, or a status and code. */
async function answer(vector: RequestVector): Promise<RequestVector["answer"]> {
  const vaultId = vector.url.pathname.split("/")[3]!;
  const message = {
    method: vector.method,
    url: new URL(`http://${vector.url.host}${vector.url.pathname}${vector.url.search}`),
    headers: vector.headers,
  };
  const auth = verifier(VECTOR_INPUTS.created);
  try {
    const address = "192.0.2.1";
    const caller = await auth.verify(message, {
      vaultId,
      hasBody: vector.body !== undefined,
      address,
    });
    if (vector.body) await auth.verifyBody(vector.headers, vector.body);
    assert.deepEqual(caller, {
      vaultId,
      deviceId: vector.headers.get("x-vaultmesh-device"),
      address,
    });
    return "accepted";
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { status: error.status, code: error.code };
  }
}

Deno.test("every worked vector appears verbatim in docs/PROTOCOL.md", async () => {
  for (const block of await protocolVectors()) {
    assert.ok(
      doc.includes(block.text),
      `docs/PROTOCOL.md lacks the "${block.title}" vector; rerun scripts/protocol_vectors.ts:\n` +
        block.text,
    );
  }
});

Deno.test("every request vector gets the answer the document states from the relay's verifier", async () => {
  const vectors = (await protocolVectors()).filter((block) => block.request);
  assert.ok(vectors.length >= 4);
  for (const { title, request } of vectors) {
    assert.deepEqual(await answer(request!), request!.answer, title);
  }
});

Deno.test("every signature base in the document is recomputed from its request with lib/protocol/signature_base.ts, and its signature verifies", async () => {
  const keys = await vaultKeysFromSeed(VECTOR_INPUTS.seed);
  const blocks = fences(doc);
  let checked = 0;
  for (const [index, block] of blocks.entries()) {
    if (!block.text.startsWith('"@method": ')) continue;
    const written = blocks.slice(0, index).reverse()
      .map((b) => parseRequest(b.text))
      .find((r) => r?.headers.has("signature-input"));
    assert.ok(written, `no signed request before the signature base at line ${block.line}`);
    const { components, paramsText } = signatureInput(written.headers.get("signature-input")!);
    const base = signatureBase(asReceived(written), components, paramsText);
    assert.equal(base, block.text, `signature base at line ${block.line}`);
    const signature = [...parseDictionary(written.headers.get("signature")!)][0]![1][0];
    assert.ok(
      await crypto.subtle.verify(
        "Ed25519",
        keys.publicKey,
        new Uint8Array(signature as ArrayBuffer),
        new TextEncoder().encode(base),
      ),
      `the signature before line ${block.line} does not verify`,
    );
    checked++;
  }
  assert.equal(checked, 2, "the document shows two signature bases");
});

Deno.test("every Content-Digest in the document is the SHA-256 of its body", async () => {
  const digestPattern = /sha-256=:([A-Za-z0-9+/]+=*):/g;
  let checked = 0;
  for (const block of fences(doc)) {
    const request = parseRequest(block.text);
    const digests = [...block.text.matchAll(digestPattern)];
    // A signature base repeats its request's header; the signature-base test recomputes it.
    if (digests.length === 0 || block.text.startsWith('"@method": ')) continue;
    const bodyText = request?.body ?? "";
    const isEmptyBodyLine = (at: number) =>
      /empty body/i.test(block.text.slice(block.text.lastIndexOf("\n", at) + 1, at));
    for (const match of digests) {
      const body = request?.body !== undefined
        ? bodyText
        : isEmptyBodyLine(match.index)
        ? ""
        : null;
      assert.ok(body !== null, `digest ${match[0]} at line ${block.line} has no body to check`);
      assert.equal(
        `sha-256=:${match[1]}:`,
        await contentDigest(new TextEncoder().encode(body)),
        `digest at line ${block.line}`,
      );
      checked++;
    }
  }
  // Digests in the prose (fenced blocks blanked out): only the empty body's.
  const prose = doc.replace(/^(\s*)```[^\n]*\n[\s\S]*?^\s*```/gm, (m) => " ".repeat(m.length));
  for (const match of prose.matchAll(digestPattern)) {
    const before = prose.slice(Math.max(0, match.index - 80), match.index);
    assert.match(before, /empty\s+body/, `a digest in the prose that is not the empty body's`);
    assert.equal(`sha-256=:${match[1]}:`, await contentDigest(new Uint8Array()), "empty body");
    checked++;
  }
  assert.ok(checked >= 5, `the scan found only ${checked} digests`);
  assert.ok(doc.includes("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"));
});

Deno.test("every envelope example's size is the length of its base64 body", () => {
  for (const block of fences(doc).filter((f) => f.info === "json")) {
    for (const match of block.text.matchAll(/"size": (\d+),\s*"body": "([A-Za-z0-9+/=]*)"/g)) {
      assert.equal(Uint8Array.fromBase64(match[2]!).length, Number(match[1]), `line ${block.line}`);
    }
  }
});

Deno.test("the query components of the document are what the relay's HTTP server and signature base give", async () => {
  const block = fences(doc).find((f) =>
    f.text.startsWith("GET ") && f.text.includes('  "@query": ')
  );
  assert.ok(block, "the query components block");
  const cases: { target: string; expected: Map<string, string> }[] = [];
  for (const line of block.text.split("\n")) {
    const request = /^GET (\S+) HTTP\/1\.1$/.exec(line);
    if (request) cases.push({ target: request[1]!, expected: new Map() });
    const component = /^ {2}"(@[a-z-]+)": (.*)$/.exec(line);
    if (component) cases.at(-1)!.expected.set(component[1]!, component[2]!);
  }
  assert.equal(cases.length, 3);
  // The URL Deno.serve hands the relay for each raw request target.
  const seen: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      seen.push(request.url);
      return new Response("ok");
    },
  );
  for (const { target, expected } of cases) {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await connection.write(
      new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nHost: relay.example.org\r\nConnection: close\r\n\r\n`,
      ),
    );
    await connection.readable.pipeTo(new WritableStream());
    const message = { method: "GET", url: new URL(seen.at(-1)!), headers: new Headers() };
    for (const [name, value] of expected) {
      assert.equal(componentValue(message, name), value, `${name} of ${target}`);
    }
  }
});

/** The relay-sent rows of the close-code table. */
function documentedCloseCodes(): number[] {
  const section = doc.slice(doc.indexOf("### Close codes"), doc.indexOf("## 7."));
  return [...section.matchAll(/^\| (\d{4}) \| relay /gm)].map((m) => Number(m[1]));
}

Deno.test("the close-code table lists exactly the codes the relay sends, 4010 for an idle timeout among them", () => {
  const sent = [...Object.values(CLOSE), ...Object.values(WEBSOCKET_FAILURE)];
  assert.deepEqual(documentedCloseCodes().sort(), sent.sort());
  assert.equal(CLOSE.idleTimeout, 4010);
  assert.match(doc, /^\| 4010 \| relay {3}\| idle timeout/m);
  assert.doesNotMatch(doc, /does not check the idempotency key/);
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

Deno.test("the worked backlog sequence shows what more promises, against a running relay", async () => {
  const block = fences(doc).find((f) => f.text.startsWith("laptop sends seq 1 to phone"));
  assert.ok(block, "the worked backlog sequence");
  const [scenario, ...steps] = block.text.split("\n");
  assert.equal(
    scenario,
    "laptop sends seq 1 to phone, seq 2 to every device, seq 3 to tablet; then phone asks:",
  );
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop, phone, tablet] = await vaultDevices(relay.url, ["laptop", "phone", "tablet"]);
  await tablet!.backlog(); // tablet is seen in the vault
  assert.equal((await laptop!.send(bytes("one"), { to: "phone" })).seq, 1);
  assert.equal((await laptop!.send(bytes("two"))).seq, 2);
  assert.equal((await laptop!.send(bytes("three"), { to: "tablet" })).seq, 3);
  assert.equal(steps.length, 3);
  for (const step of steps) {
    const match =
      /^GET …\/envelopes\?(\S+)\s+->\s+seqs \[([\d, ]*)\], latest_seq (\d+), more (true|false)$/
        .exec(step);
    assert.ok(match, step);
    const query = Object.fromEntries(
      [...new URLSearchParams(match[1]!)].map(([key, value]) => [key, Number(value)]),
    );
    const page = await phone!.backlog(query);
    assert.deepEqual(
      {
        seqs: page.envelopes.map((e) => e.seq),
        latest: page.latestSeq,
        more: page.more,
      },
      {
        seqs: match[2] === "" ? [] : match[2]!.split(", ").map(Number),
        latest: Number(match[3]),
        more: match[4] === "true",
      },
      step,
    );
  }
});

Deno.test("HEAD is in no Allow header: a 405 and a preflight name the path's methods and OPTIONS only", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const keys = await vaultKeysFromSeed(VECTOR_INPUTS.seed);
  const envelopes = `${relay.url}/v3/vaults/${await vaultIdOfKeys(keys)}/envelopes`;
  const refused = await fetch(envelopes, { method: "PATCH", headers: PROTOCOL_3 });
  assert.equal(refused.status, 405);
  assert.equal((await refused.json()).error, "method_not_allowed");
  const allow = refused.headers.get("allow");
  assert.ok(
    doc.includes(`\`Allow: ${allow}\` on \`/v3/vaults/{vault}/envelopes\``),
    `Allow: ${allow}`,
  );
  const preflight = await fetch(envelopes, { method: "OPTIONS" });
  await preflight.body?.cancel();
  assert.equal(preflight.headers.get("access-control-allow-methods"), allow);
  assert.doesNotMatch(allow!, /HEAD/);
  // Not part of the protocol; what the relay does today is reported, not promised.
  const head = await fetch(`${relay.url}/health`, { method: "HEAD" });
  await head.body?.cancel();
  console.log(`HEAD /health answers ${head.status} (unspecified by the protocol)`);
});

Deno.test("a socket send frame with an idempotency key outside 0x21-0x7E gets bad_idempotency_key", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const [laptop] = await vaultDevices(relay.url, ["laptop", "phone"]);
  const socket = await laptop!.connect();
  try {
    await assert.rejects(
      socket.send(bytes("hello"), { idempotencyKey: "op 1" }),
      (error: unknown) => error instanceof RelayError && error.code === "bad_idempotency_key",
    );
    const stored = await socket.send(bytes("hello"), { idempotencyKey: "op-1" });
    assert.equal(stored.seq, 1);
  } finally {
    socket.close();
  }
});

Deno.test("a stateless relay opens no database and keeps its libp2p key beside --db, as the document says", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, { mode: "stateless", p2pPort: freePort() });
  const health = await fetch(`${relay.url}/health`);
  assert.equal((await health.json()).mode, "stateless");
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["relay.p2p-key"]);
  assert.match(doc, /The relay opens no database/);
  assert.match(doc, /\(`relay\.db` →\s+`relay\.p2p-key`\)/);
});
