/**
 * Reading the `Signature-Input` and `Signature` fields of a signed request (RFC 9421 §4): one
 * signature, its covered components, its parameters, the serialized parameters its signature
 * base ends with, and the signature's bytes.
 *
 * Clients send these fields in their canonical serialization (RFC 8941 §4.1), which a few
 * patterns read exactly in a few microseconds; the general structured-field parser took about a
 * tenth of a signed request's time on the relay. Anything else (escapes in strings, other bare
 * item types, boolean parameters, repeated parameters, extra whitespace, several members, a
 * signature whose base64 is not canonical) goes to the general parser, which answers it as it
 * always did: `signature_fields_test.ts` checks that both read every canonical field alike.
 *
 * @module
 */
import { type InnerList, parseDictionary, serializeInnerList } from "structured-headers";
import { ProtocolError } from "../protocol/errors.ts";

/** What a request's signature fields say. */
export interface ParsedSignature {
  /** The covered components, in order. */
  readonly components: string[];
  /** The inner list with its parameters, serialized: the signature base's `@signature-params`. */
  readonly paramsText: string;
  /** The signature's parameters (`created`, `keyid`, `alg`, `nonce`, `expires`). */
  readonly params: Map<string, unknown>;
  readonly signature: Uint8Array<ArrayBuffer>;
}

function malformed(message: string): ProtocolError {
  return new ProtocolError("signature_malformed", message);
}

const KEY = "[a-z*][a-z0-9_.*-]*";
/** An sf-string without escapes: printable ASCII but `"` and `\`. */
const STRING = '"[ !#-\\[\\]-~]*"';
/** An sf-integer as serialized: no leading zeros, at most 15 digits. */
const INTEGER = "-?(?:0|[1-9][0-9]{0,14})";
/** `label=(“component” …);key=value…`, canonical, one member: label, list and parameters. */
const CANONICAL_INPUT = new RegExp(
  `^(${KEY})=(\\((?:${STRING}(?: ${STRING})*)?\\))((?:;${KEY}=(?:${INTEGER}|${STRING}))*)$`,
);
const COMPONENT = new RegExp(STRING, "g");
const PARAMETER = new RegExp(`;(${KEY})=(${INTEGER}|${STRING})`, "g");
/** `label=:base64:`, one member. */
const CANONICAL_SIGNATURE = new RegExp(`^(${KEY})=:([A-Za-z0-9+/]*={0,2}):$`);

/**
 * The signature of a request, read from its `Signature-Input` (`input`) and `Signature`
 * (`signature`) fields.
 *
 * @throws {ProtocolError} `signature_malformed` when they are not one well-formed signature.
 */
export function parseSignatureFields(input: string, signature: string): ParsedSignature {
  return readCanonical(input, signature) ?? readGeneral(input, signature);
}

/**
 * The fields read by the canonical patterns, or undefined when they are not in canonical form
 * (the general parser then reads them, or refuses them).
 */
export function readCanonical(input: string, signature: string): ParsedSignature | undefined {
  const inputMatch = CANONICAL_INPUT.exec(input);
  const signatureMatch = CANONICAL_SIGNATURE.exec(signature);
  if (!inputMatch || !signatureMatch || inputMatch[1] !== signatureMatch[1]) return undefined;
  const [, , list, parameters] = inputMatch as unknown as [string, string, string, string];
  const components = (list.match(COMPONENT) ?? []).map((quoted) => quoted.slice(1, -1));
  const params = new Map<string, unknown>();
  for (const [, key, value] of parameters.matchAll(PARAMETER)) {
    // A repeated parameter serializes once: the text would not be canonical.
    if (params.has(key!)) return undefined;
    params.set(key!, value!.startsWith('"') ? value!.slice(1, -1) : Number(value));
  }
  const base64 = signatureMatch[2]!;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.fromBase64(base64) as Uint8Array<ArrayBuffer>;
  } catch {
    return undefined;
  }
  if (bytes.toBase64() !== base64) return undefined;
  return { components, paramsText: list + parameters, params, signature: bytes };
}

/**
 * The fields read by the general structured-field parser (RFC 8941).
 *
 * @throws {ProtocolError} `signature_malformed` when they are not one well-formed signature.
 */
export function readGeneral(input: string, signature: string): ParsedSignature {
  let inputs, signatures;
  try {
    inputs = parseDictionary(input);
    signatures = parseDictionary(signature);
  } catch (error) {
    throw malformed(
      `Signature-Input or Signature is not a structured dictionary: ${(error as Error).message}`,
    );
  }
  if (inputs.size !== 1) throw malformed("Send exactly one signature in Signature-Input");
  const [label, member] = [...inputs][0]!;
  const value = signatures.get(label)?.[0];
  if (!Array.isArray(member?.[0]) || !(value instanceof ArrayBuffer)) {
    throw malformed(
      `Signature label ${JSON.stringify(label)} needs an inner list in Signature-Input and ` +
        "a byte sequence in Signature",
    );
  }
  const list = member as InnerList;
  const components = list[0].map(([name, componentParams]) => {
    if (typeof name !== "string" || componentParams.size > 0) {
      throw malformed("Covered components must be plain strings without parameters");
    }
    return name;
  });
  return {
    components,
    paramsText: serializeInnerList(list),
    params: list[1],
    signature: new Uint8Array(value),
  };
}
