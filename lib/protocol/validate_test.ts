import assert from "node:assert/strict";
import { assertRefused } from "./_assert_refused.ts";
import {
  canonicalBase64,
  decodeCanonicalBase64,
  DEFAULT_PRESENCE_TTL_SECONDS,
  integerParameter,
  isSeq,
  presenceTtl,
  validateDevice,
  validateIdempotencyKey,
  validateRecipient,
  validateSize,
  validateVaultId,
} from "./validate.ts";
import { vaultIdOf } from "./identity.ts";

/** Asserts that `work` throws a ProtocolError with `code` (and a message matching `pattern`). */

const keys = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
const KEY = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
const VAULT = vaultIdOf(KEY);

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The same key spelled with one of the two unused bits of the last character set. */
function secondSpelling(id: string): string {
  return id.slice(0, -1) + BASE64URL[BASE64URL.indexOf(id.at(-1)!) ^ 1];
}

Deno.test("validateVaultId returns the public key of a canonical vault id", () => {
  assert.deepEqual(validateVaultId(VAULT), KEY);
});

Deno.test("validateVaultId refuses ids of the wrong length, alphabet or spelling", () => {
  const refused = [
    "",
    VAULT.slice(0, 42),
    `${VAULT}A`,
    `${VAULT.slice(0, 42)}=`,
    `${VAULT.slice(0, 42)}+`,
    secondSpelling(VAULT),
    "A".repeat(43), // the all-zero key has small order: anyone can sign for it
  ];
  for (const id of refused) {
    assert.match(assertRefused(() => validateVaultId(id), "bad_vault_id").message, /43 characters/);
  }
});

Deno.test("validateRecipient accepts null and another device's id", () => {
  assert.equal(validateRecipient(null, "phone"), null);
  assert.equal(validateRecipient("laptop", "phone"), "laptop");
  assert.equal(validateRecipient("a".repeat(64), "phone"), "a".repeat(64));
});

Deno.test("validateRecipient refuses the sender itself and malformed device ids", () => {
  for (const to of ["phone", "", "has space", "a".repeat(65), "ünï"]) {
    assert.match(
      assertRefused(() => validateRecipient(to, "phone"), "bad_recipient").message,
      /another device id/,
    );
  }
});

Deno.test("validateIdempotencyKey accepts an absent key and 1 to 128 visible ASCII characters", () => {
  assert.equal(validateIdempotencyKey(undefined), undefined);
  assert.equal(validateIdempotencyKey(null), undefined);
  assert.equal(validateIdempotencyKey("k"), "k");
  assert.equal(validateIdempotencyKey("!~{}/=".repeat(20)), "!~{}/=".repeat(20));
  assert.equal(validateIdempotencyKey("x".repeat(128)), "x".repeat(128));
});

Deno.test("validateIdempotencyKey refuses empty, long, spaced and non-ASCII keys", () => {
  for (const key of ["", "x".repeat(129), "has space", "tab\t", "clé"]) {
    assert.match(
      assertRefused(() => validateIdempotencyKey(key), "bad_idempotency_key").message,
      /1 to 128/,
    );
  }
});

Deno.test("validateDevice accepts 1 to 64 characters of A-Z, a-z, 0-9, _ and -", () => {
  for (const device of ["a", "Phone_2-x", "0".repeat(64)]) {
    assert.equal(validateDevice(device, "X-VaultMesh-Device"), device);
  }
});

Deno.test("validateDevice refuses a missing or malformed device id, naming where it came from", () => {
  for (const device of [null, "", "a".repeat(65), "a.b", "a b", "é"]) {
    assert.match(
      assertRefused(
        () => validateDevice(device, "X-VaultMesh-Device"),
        "bad_device",
      ).message,
      /^X-VaultMesh-Device must be 1 to 64 characters/,
    );
  }
});

Deno.test("validateSize accepts a size up to the limit and refuses one above with the limit", () => {
  validateSize(0, 10);
  validateSize(10, 10);
  const error = assertRefused(() => validateSize(11, 10), "too_large");
  assert.match(error.message, /^The body is larger than 10/);
  assert.equal(error.status, 413);
  assert.deepEqual(error.details, { limit: 10 });
  assert.match(
    assertRefused(() => validateSize(5, 4, "The presence blob"), "too_large").message,
    /^The presence blob/,
  );
});

Deno.test("isSeq accepts non-negative safe integers only", () => {
  for (const value of [0, 1, 42, Number.MAX_SAFE_INTEGER]) assert.equal(isSeq(value), true);
  for (const value of [-1, 1.5, NaN, Infinity, 2 ** 53, "1", null, undefined, 1n]) {
    assert.equal(isSeq(value), false, String(value));
  }
});

Deno.test("integerParameter reads decimal strings and JSON numbers within the range", () => {
  const range = { min: 0, max: 1000 };
  assert.equal(integerParameter("limit", undefined, range), undefined);
  assert.equal(integerParameter("limit", null, range), undefined);
  assert.equal(integerParameter("limit", "0", range), 0);
  assert.equal(integerParameter("limit", "1000", range), 1000);
  assert.equal(integerParameter("limit", "007", range), 7);
  assert.equal(integerParameter("limit", 250, range), 250);
});

Deno.test("integerParameter refuses anything else as bad_parameter naming the value and range", () => {
  const range = { min: 1, max: 30 };
  const refused: unknown[] = [
    "",
    "0",
    "31",
    "-1",
    "+1",
    "1.5",
    "1e1",
    " 1",
    "0x1",
    "1".repeat(17),
    0,
    31,
    1.5,
    NaN,
    Infinity,
    true,
    [5],
    {},
  ];
  for (const raw of refused) {
    assert.match(
      assertRefused(
        () => integerParameter("wait", raw, range),
        "bad_parameter",
      ).message,
      /^wait=.* must be an integer from 1 to 30$/,
    );
  }
  assert.match(
    assertRefused(() => integerParameter("wait", "31", range), "bad_parameter").message,
    /^wait="31" must/,
  );
  assert.match(
    assertRefused(() => integerParameter("wait", 31, range), "bad_parameter").message,
    /^wait=31 must/,
  );
});

Deno.test("presenceTtl defaults when absent and accepts 1 to the maximum", () => {
  assert.equal(presenceTtl(undefined, 3600), DEFAULT_PRESENCE_TTL_SECONDS);
  assert.equal(presenceTtl(null, 3600), DEFAULT_PRESENCE_TTL_SECONDS);
  assert.equal(presenceTtl("1", 3600), 1);
  assert.equal(presenceTtl(3600, 3600), 3600);
});

Deno.test("presenceTtl refuses zero and values above the maximum", () => {
  for (const raw of [0, "0", 3601, "3601", -5, "soon"]) {
    assert.match(
      assertRefused(() => presenceTtl(raw, 3600), "bad_parameter").message,
      /^ttl=.* from 1 to 3600$/,
    );
  }
});

Deno.test("canonicalBase64 decodes padded standard base64", () => {
  assert.deepEqual(canonicalBase64("aGk=", "blob"), new TextEncoder().encode("hi"));
  assert.deepEqual(canonicalBase64("+/8=", "blob"), new Uint8Array([0xfb, 0xff]));
  assert.deepEqual(canonicalBase64("", "blob"), new Uint8Array());
});

Deno.test("canonicalBase64 refuses unpadded, url-safe, stray-bit and spaced base64 naming the field", () => {
  for (const text of ["aGk", "aGl=", "-_8=", "aG k=", "aGk=\n", "aGk==", "!!!!"]) {
    assert.match(
      assertRefused(() => canonicalBase64(text, "blob"), "bad_parameter").message,
      /^blob must be canonical/,
    );
  }
});

Deno.test("decodeCanonicalBase64 answers undefined instead of throwing", () => {
  assert.deepEqual(decodeCanonicalBase64("aGk="), new TextEncoder().encode("hi"));
  for (const value of ["aGk", "aGl=", 42, null, undefined, { length: 4 }]) {
    assert.equal(decodeCanonicalBase64(value), undefined, String(value));
  }
});
