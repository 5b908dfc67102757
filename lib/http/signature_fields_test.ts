import assert from "node:assert/strict";
import { parseSignatureFields, readCanonical, readGeneral } from "./signature_fields.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { signRequest } from "../client/sign.ts";
import { generateVaultKeys, vaultIdOfKeys } from "../client/keys.ts";

const SIGNATURE = `sig1=:${new Uint8Array(64).fill(7).toBase64()}:`;
const COMPONENTS = '("@method" "@authority" "@path" "x-vaultmesh-protocol")';
const PARAMS = ';created=1700000000;keyid="AbC-_9";alg="ed25519";nonce="n0nce-0123456789"';
const INPUT = `sig1=${COMPONENTS}${PARAMS}`;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ProtocolError, String(error));
    return error.code;
  }
}

Deno.test("the fields the reference client signs are read by the canonical patterns", async () => {
  const keys = await generateVaultKeys();
  const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "laptop" });
  const url = new URL("https://relay.example/v3/vaults/x/envelopes");
  const body = new Uint8Array([1, 2, 3]);
  const keyid = await vaultIdOfKeys(keys);
  await signRequest({ method: "POST", url, headers, body }, { privateKey: keys.privateKey, keyid });
  const input = headers.get("signature-input")!;
  const signature = headers.get("signature")!;
  const canonical = readCanonical(input, signature);
  assert.ok(canonical, input);
  assert.deepEqual(canonical, readGeneral(input, signature));
  assert.deepEqual(canonical.components.slice(-1), ["content-digest"]);
  assert.equal(canonical.params.get("keyid"), keyid);
  assert.equal(canonical.signature.length, 64);
});

Deno.test("whatever the canonical patterns read, the general parser reads alike", () => {
  const inputs = [
    INPUT,
    `sig1=()${PARAMS}`,
    `sig1=${COMPONENTS}`,
    `sig1=${COMPONENTS};created=0;expires=-5`,
    `sig1=("a,b" "c;d=1" "e f")${PARAMS}`,
    `sig1=("a)b" "(" ")")${PARAMS}`,
    `sig1=${COMPONENTS};nonce="x;alg=1)"`,
    `*x_1.-=${COMPONENTS}${PARAMS}`,
  ];
  for (const input of inputs) {
    const signature = `${/^[^=]+/.exec(input)![0]}=:${new Uint8Array(64).toBase64()}:`;
    const canonical = readCanonical(input, signature);
    assert.ok(canonical, input);
    assert.deepEqual(canonical, readGeneral(input, signature), input);
  }
});

Deno.test("fields not in canonical form go to the general parser, which reads or refuses them", () => {
  const readByTheGeneralParser = {
    "spaces inside the list": `sig1=(  "@method"   "@path" )${PARAMS}`,
    "an escaped quote": `sig1=("a\\"b")${PARAMS}`,
    "a boolean parameter": `sig1=${COMPONENTS}${PARAMS};flag`,
    "a repeated parameter": `sig1=${COMPONENTS}${PARAMS};created=1`,
    "an integer with a leading zero": `sig1=${COMPONENTS};created=0100`,
    "a token parameter": `sig1=${COMPONENTS};alg=ed25519`,
    "a decimal parameter": `sig1=${COMPONENTS};created=1.5`,
  };
  for (const [what, input] of Object.entries(readByTheGeneralParser)) {
    assert.equal(readCanonical(input, SIGNATURE), undefined, what);
    const read = parseSignatureFields(input, SIGNATURE);
    assert.deepEqual(read, readGeneral(input, SIGNATURE), what);
  }
  const unpadded = `sig1=:${new Uint8Array(64).fill(7).toBase64({ omitPadding: true })}:`;
  assert.equal(readCanonical(INPUT, unpadded), undefined, "base64 without its padding");
  const refused = {
    "two signatures": [`${INPUT}, sig2=${COMPONENTS}`, SIGNATURE],
    "not a dictionary": ["sig1=(", SIGNATURE],
    "labels that differ": [INPUT, SIGNATURE.replace("sig1", "sig2")],
    "a token for a component": [`sig1=(@method)${PARAMS}`, SIGNATURE],
    "a component with parameters": [`sig1=("@path";req)${PARAMS}`, SIGNATURE],
    "no byte sequence": [INPUT, "sig1=abc"],
  };
  for (const [what, [input, signature]] of Object.entries(refused)) {
    assert.equal(readCanonical(input!, signature!), undefined, what);
    assert.equal(
      codeOf(() => parseSignatureFields(input!, signature!)),
      "signature_malformed",
      what,
    );
  }
});

Deno.test("no mutation of a field is read by the canonical patterns unlike the general parser", () => {
  // A seeded generator: the same 3000 mutations every run.
  let seed = 42;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  const alphabet = ' "();=,:-*_.\\aZ09+/\t';
  let readCanonically = 0;
  for (let i = 0; i < 3000; i++) {
    const field = random(2) === 0 ? INPUT : SIGNATURE;
    const at = random(field.length + 1);
    const char = alphabet[random(alphabet.length)]!;
    const mutated = [
      field.slice(0, at) + char + field.slice(at),
      field.slice(0, at) + field.slice(at + 1),
      field.slice(0, at) + char + field.slice(at + 1),
    ][random(3)]!;
    const [input, signature] = field === INPUT ? [mutated, SIGNATURE] : [INPUT, mutated];
    const canonical = readCanonical(input, signature);
    if (!canonical) continue;
    readCanonically++;
    assert.deepEqual(canonical, readGeneral(input, signature), `${input} / ${signature}`);
  }
  assert.ok(readCanonically > 100, `only ${readCanonically} mutations stayed canonical`);
});
