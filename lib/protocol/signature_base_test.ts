import assert from "node:assert/strict";
import { vaultKeysFromSeed } from "../client/mod.ts";
import { contentDigest, signatureBase } from "./signature_base.ts";

// RFC 9421 appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request using ed25519).
const RFC_PRIVATE_D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
const RFC_PUBLIC_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
const RFC_PARAMS =
  '("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
const RFC_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  `"@signature-params": ${RFC_PARAMS}`,
].join("\n");
const RFC_SIGNATURE =
  "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==";

const rfcRequest = {
  method: "POST",
  url: new URL("https://example.com/foo?param=Value&Pet=dog"),
  headers: new Headers({
    "host": "example.com",
    "date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "content-type": "application/json",
    "content-length": "18",
  }),
};
const rfcComponents = ["date", "@method", "@path", "@authority", "content-type", "content-length"];

Deno.test("signature base matches RFC 9421 B.2.6 byte for byte", () => {
  assert.equal(signatureBase(rfcRequest, rfcComponents, RFC_PARAMS), RFC_BASE);
});

Deno.test("signing the RFC 9421 B.2.6 base with the RFC key gives the RFC's signature", async () => {
  const keys = await vaultKeysFromSeed(
    Uint8Array.fromBase64(RFC_PRIVATE_D, { alphabet: "base64url" }),
  );
  const jwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
  assert.equal(jwk.x, RFC_PUBLIC_X);
  const base = new TextEncoder().encode(signatureBase(rfcRequest, rfcComponents, RFC_PARAMS));
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", keys.privateKey, base));
  assert.equal(signature.toBase64(), RFC_SIGNATURE);
  assert.ok(
    await crypto.subtle.verify(
      "Ed25519",
      keys.publicKey,
      Uint8Array.fromBase64(RFC_SIGNATURE),
      base,
    ),
  );
});

Deno.test("content digest matches RFC 9530's sha-256 example", async () => {
  const body = new TextEncoder().encode('{"hello": "world"}');
  assert.equal(await contentDigest(body), "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
});

Deno.test("an absent query is the single character ? in the signature base", () => {
  const message = {
    method: "get",
    url: new URL("http://relay.test:8080/v3/x"),
    headers: new Headers(),
  };
  assert.equal(
    signatureBase(message, ["@method", "@authority", "@path", "@query"], "()"),
    '"@method": GET\n"@authority": relay.test:8080\n"@path": /v3/x\n"@query": ?\n"@signature-params": ()',
  );
});
