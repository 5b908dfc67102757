/**
 * The connection gate's HTTP/1.1 for the WebSocket upgrade that
 * opens a connection. Reading it into a `Request` for the relay's handler, and writing the
 * handler's answer back. Anything unusual is left to `Deno.serve` (the request then takes the
 * loopback hop), so this reads only a plain, well-formed head.
 *
 * @module
 */
import { answerBytes, readRequestHead } from "./plain_request.ts";

/** An upgrade request read off a connection, and the bytes that came after its head. */
export interface UpgradeRequest {
  readonly request: Request;
  readonly rest: Uint8Array;
}

/**
 * The request in `bytes` (a complete head and whatever followed it) when it is a plain
 * `GET … HTTP/1.1` asking for `Upgrade: websocket`, without a body; otherwise undefined.
 */
export function readUpgradeRequest(bytes: Uint8Array): UpgradeRequest | undefined {
  const head = readRequestHead(bytes);
  if (!head || head.method !== "GET") return undefined;
  const { fields } = head;
  if (
    fields.upgrade?.toLowerCase() !== "websocket" ||
    "transfer-encoding" in fields || (fields["content-length"] ?? "0") !== "0"
  ) return undefined;
  return { request: new Request(head.url, { headers: fields }), rest: head.rest };
}

/** The gate's `101 Switching Protocols` for a WebSocket handshake. */
export function switchingProtocols(accept: string, protocol: string | undefined): Uint8Array {
  return new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
      `sec-websocket-accept: ${accept}\r\n` +
      (protocol === undefined ? "" : `sec-websocket-protocol: ${protocol}\r\n`) + "\r\n",
  );
}

/** Any other answer to an upgrade request, whole, ending the connection. */
export function closingAnswer(response: Response): Promise<Uint8Array> {
  return answerBytes(response, { method: "GET", close: true });
}
