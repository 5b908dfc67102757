/**
 * The `/rendezvous/1.0.0` wire messages (libp2p specs, rendezvous): one protobuf `Message` per
 * length-prefixed frame, with a type and one of the bodies below.
 *
 * @module
 */
import { decodeUtf8, ProtobufWriter, readFields, toInt64 } from "./protobuf.ts";

/** `Message.MessageType`. */
export const MessageType = {
  REGISTER: 0,
  REGISTER_RESPONSE: 1,
  UNREGISTER: 2,
  DISCOVER: 3,
  DISCOVER_RESPONSE: 4,
} as const;

/** `Message.ResponseStatus`. */
export const ResponseStatus = {
  OK: 0,
  E_INVALID_NAMESPACE: 100,
  E_INVALID_SIGNED_PEER_RECORD: 101,
  E_INVALID_TTL: 102,
  E_INVALID_COOKIE: 103,
  E_NOT_AUTHORIZED: 200,
  E_INTERNAL_ERROR: 300,
  E_UNAVAILABLE: 400,
} as const;

/** `Message.Register`; `ttl` in seconds. */
export interface Register {
  ns?: string;
  signedPeerRecord?: Uint8Array;
  ttl?: bigint;
}

/** `Message.RegisterResponse`. */
export interface RegisterResponse {
  status?: number;
  statusText?: string;
  ttl?: bigint;
}

/** `Message.Unregister`. */
export interface Unregister {
  ns?: string;
  id?: Uint8Array;
}

/** `Message.Discover`. */
export interface Discover {
  ns?: string;
  limit?: bigint;
  cookie?: Uint8Array;
}

/** `Message.DiscoverResponse`. */
export interface DiscoverResponse {
  registrations: Register[];
  cookie?: Uint8Array;
  status?: number;
  statusText?: string;
}

/** `Message`, with the body that matches its type. */
export interface RendezvousMessage {
  type?: number;
  register?: Register;
  registerResponse?: RegisterResponse;
  unregister?: Unregister;
  discover?: Discover;
  discoverResponse?: DiscoverResponse;
}

function encodeRegister(register: Register): Uint8Array {
  const writer = new ProtobufWriter();
  if (register.ns !== undefined) writer.string(1, register.ns);
  if (register.signedPeerRecord) writer.bytes(2, register.signedPeerRecord);
  if (register.ttl !== undefined) writer.uint(3, register.ttl);
  return writer.finish();
}

/**
 * Bytes `registration` adds to an encoded `DiscoverResponse`: its field tag, its length and its
 * body. A reply is the sum of these plus its cookie, status and message framing.
 */
export function discoveredRegistrationBytes(registration: Register): number {
  const body = encodeRegister(registration).byteLength;
  let lengthBytes = 1;
  while (body >= 2 ** (7 * lengthBytes)) lengthBytes++;
  return 1 + lengthBytes + body;
}

/** Encodes a message for the wire (without the length prefix). */
export function encodeMessage(message: RendezvousMessage): Uint8Array {
  const writer = new ProtobufWriter();
  if (message.type !== undefined) writer.uint(1, message.type);
  if (message.register) writer.bytes(2, encodeRegister(message.register));
  const response = message.registerResponse;
  if (response) {
    const body = new ProtobufWriter();
    if (response.status !== undefined) body.uint(1, response.status);
    if (response.statusText !== undefined) body.string(2, response.statusText);
    if (response.ttl !== undefined) body.uint(3, response.ttl);
    writer.bytes(3, body.finish());
  }
  const unregister = message.unregister;
  if (unregister) {
    const body = new ProtobufWriter();
    if (unregister.ns !== undefined) body.string(1, unregister.ns);
    if (unregister.id) body.bytes(2, unregister.id);
    writer.bytes(4, body.finish());
  }
  const discover = message.discover;
  if (discover) {
    const body = new ProtobufWriter();
    if (discover.ns !== undefined) body.string(1, discover.ns);
    if (discover.limit !== undefined) body.uint(2, discover.limit);
    if (discover.cookie) body.bytes(3, discover.cookie);
    writer.bytes(5, body.finish());
  }
  const found = message.discoverResponse;
  if (found) {
    const body = new ProtobufWriter();
    for (const registration of found.registrations) body.bytes(1, encodeRegister(registration));
    if (found.cookie) body.bytes(2, found.cookie);
    if (found.status !== undefined) body.uint(3, found.status);
    if (found.statusText !== undefined) body.string(4, found.statusText);
    writer.bytes(6, body.finish());
  }
  return writer.finish();
}

function decodeRegister(bytes: Uint8Array): Register {
  const register: Register = {};
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "bytes") register.ns = decodeUtf8(field.value);
    if (field.field === 2 && field.kind === "bytes") register.signedPeerRecord = field.value;
    if (field.field === 3 && field.kind === "varint") register.ttl = toInt64(field.value);
  }
  return register;
}

function decodeRegisterResponse(bytes: Uint8Array): RegisterResponse {
  const response: RegisterResponse = {};
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "varint") response.status = Number(field.value);
    if (field.field === 2 && field.kind === "bytes") response.statusText = decodeUtf8(field.value);
    if (field.field === 3 && field.kind === "varint") response.ttl = toInt64(field.value);
  }
  return response;
}

function decodeUnregister(bytes: Uint8Array): Unregister {
  const unregister: Unregister = {};
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "bytes") unregister.ns = decodeUtf8(field.value);
    if (field.field === 2 && field.kind === "bytes") unregister.id = field.value;
  }
  return unregister;
}

function decodeDiscover(bytes: Uint8Array): Discover {
  const discover: Discover = {};
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "bytes") discover.ns = decodeUtf8(field.value);
    if (field.field === 2 && field.kind === "varint") discover.limit = toInt64(field.value);
    if (field.field === 3 && field.kind === "bytes") discover.cookie = field.value;
  }
  return discover;
}

function decodeDiscoverResponse(bytes: Uint8Array): DiscoverResponse {
  const response: DiscoverResponse = { registrations: [] };
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "bytes") {
      response.registrations.push(decodeRegister(field.value));
    }
    if (field.field === 2 && field.kind === "bytes") response.cookie = field.value;
    if (field.field === 3 && field.kind === "varint") response.status = Number(field.value);
    if (field.field === 4 && field.kind === "bytes") response.statusText = decodeUtf8(field.value);
  }
  return response;
}

/**
 * Decodes one message.
 *
 * @throws {RangeError|TypeError} when the bytes are not a well-formed message.
 */
export function decodeMessage(bytes: Uint8Array): RendezvousMessage {
  const message: RendezvousMessage = {};
  for (const field of readFields(bytes)) {
    if (field.field === 1 && field.kind === "varint") message.type = Number(field.value);
    if (field.kind !== "bytes") continue;
    if (field.field === 2) message.register = decodeRegister(field.value);
    if (field.field === 3) message.registerResponse = decodeRegisterResponse(field.value);
    if (field.field === 4) message.unregister = decodeUnregister(field.value);
    if (field.field === 5) message.discover = decodeDiscover(field.value);
    if (field.field === 6) message.discoverResponse = decodeDiscoverResponse(field.value);
  }
  return message;
}

/**
 * A discovery cookie in rust-libp2p's layout: the last registration id as 8 bytes big-endian,
 * then the namespace's UTF-8 bytes (nothing for a discovery over all namespaces).
 */
export function encodeCookie(lastId: number, namespace: string | undefined): Uint8Array {
  const ns = new TextEncoder().encode(namespace ?? "");
  const cookie = new Uint8Array(8 + ns.byteLength);
  new DataView(cookie.buffer).setBigUint64(0, BigInt(lastId));
  cookie.set(ns, 8);
  return cookie;
}

/** Reads a cookie written by {@linkcode encodeCookie}; `undefined` when it is malformed. */
export function decodeCookie(
  cookie: Uint8Array,
): { lastId: number; namespace: string | undefined } | undefined {
  if (cookie.byteLength < 8) return undefined;
  const id = new DataView(cookie.buffer, cookie.byteOffset, 8).getBigUint64(0);
  if (id > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  try {
    const namespace = cookie.byteLength === 8 ? undefined : decodeUtf8(cookie.subarray(8));
    return { lastId: Number(id), namespace };
  } catch {
    return undefined;
  }
}
