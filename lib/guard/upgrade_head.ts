/**
 * The connection gate's HTTP/1.1 for the one request it answers itself: a WebSocket upgrade that
 * opens a connection. Reading it into a `Request` for the relay's handler, and writing the
 * handler's answer back. Anything unusual is left to `Deno.serve` (the request then takes the
 * loopback hop), so this reads only a plain, well-formed head.
 *
 * @module
 */
import { indexOfHeadEnd } from "./tcp_proxy.ts";
import { answerBytes } from "./plain_request.ts";

/** A token (RFC 9110 §5.6.2): what a method and a field name are made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const latin1 = new TextDecoder("latin1");

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
  const end = indexOfHeadEnd(bytes, 0);
  if (end < 0) return undefined;
  const lines = latin1.decode(bytes.subarray(0, end - 4)).split("\r\n");
  const target = /^GET (\/[!-~]*) HTTP\/1\.1$/.exec(lines[0] ?? "")?.[1];
  if (target === undefined) return undefined;
  const headers = new Headers();
  try {
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      if (colon < 1 || !TOKEN.test(name)) return undefined;
      headers.append(name, line.slice(colon + 1).trim());
    }
  } catch {
    return undefined; // a value Headers refuses
  }
  const host = headers.get("host");
  if (
    !host || host.includes(",") || headers.get("upgrade")?.toLowerCase() !== "websocket" ||
    headers.has("transfer-encoding") || (headers.get("content-length") ?? "0") !== "0"
  ) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${host}${target}`);
  } catch {
    return undefined;
  }
  if (url.host !== host.toLowerCase()) return undefined;
  return { request: new Request(url, { headers }), rest: bytes.subarray(end) };
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
