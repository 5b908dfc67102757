/**
 * The connection gate's HTTP/1.1 for the requests it answers itself: plain ones, which are
 * nearly all of them (a device's signed sends, backlog pages, acks, `/health`). Plain means
 * `METHOD /target HTTP/1.1`, a single well-formed `Host`, a body of a declared `Content-Length`
 * (or none), and no `Transfer-Encoding`, `Expect` or `Upgrade`. Anything else goes to `Deno.serve`
 * over the loopback hop, which answers it as before, so this reads only what it can read exactly.
 *
 * Answering them itself spares each request the hop: two more copies through the kernel, the
 * HTTP server's own parse and its per-connection buffers (about 9 MiB for 32 busy senders,
 * docs/BENCHMARKS.md, "Fitting 64 MiB"). It costs more time per request than the hop: the
 * `Request` and the answer are built in JavaScript, where `Deno.serve` builds them natively and
 * lazily (docs/BENCHMARKS.md, "V8 flags, scavenge pacing, signature fields and the gate's own HTTP").
 *
 * @module
 */
import { indexOfHeadEnd } from "./tcp_proxy.ts";

/** A token (RFC 9110 §5.6.2): what a method and a field name are made of. */
const TOKEN_CHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const TOKEN = new RegExp(`^${TOKEN_CHAR}+$`);
/** `METHOD /target HTTP/1.1`: origin form only; anything else is the HTTP server's. */
const REQUEST_LINE = new RegExp(`^(${TOKEN_CHAR}+) (\\/[!-~]*) HTTP\\/1\\.1$`);
/** Spaces and tabs around a field's value (RFC 9110 §5.5), which are not part of it. */
const HTTP_WHITESPACE = /^[ \t]+|[ \t]+$/g;
const latin1 = new TextDecoder("latin1");

/**
 * A head's fields by lower-case name, repeated fields joined with ", " as `Headers` joins them.
 * A plain record: a `Request` is built from it at a third of the time and garbage of building it
 * from a `Headers` object (which it copies field by field, sorted).
 */
export type HeadFields = Readonly<Record<string, string>>;

/** A well-formed HTTP/1.1 request head read off a connection. */
export interface RequestHead {
  readonly method: string;
  readonly url: URL;
  readonly fields: HeadFields;
  /** The bytes that came after the head (the body's start, or a pipelined request). */
  readonly rest: Uint8Array;
}

/** A plain request's head (see the module's documentation). */
export interface PlainHead extends RequestHead {
  /** The body's declared length (0 without `Content-Length`). */
  readonly bodyLength: number;
  /** Whether the client asked to close the connection after this request. */
  readonly close: boolean;
}

/**
 * The head `bytes` begins with (a complete head, and whatever followed it) when it is
 * `METHOD /target HTTP/1.1` with well-formed fields and one `Host` that names the URL's host;
 * otherwise undefined. The gate answers only such heads itself (`readPlainHead`, and
 * `readUpgradeRequest` in `upgrade_head.ts`); the HTTP server answers the rest.
 */
export function readRequestHead(bytes: Uint8Array): RequestHead | undefined {
  const end = indexOfHeadEnd(bytes, 0);
  if (end < 0) return undefined;
  const lines = latin1.decode(bytes.subarray(0, end - 4)).split("\r\n");
  const [, method, target] = REQUEST_LINE.exec(lines[0] ?? "") ?? [];
  if (method === undefined || target === undefined) return undefined;
  const fields: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    // A value Headers would refuse (NUL) is the HTTP server's to answer.
    if (colon < 1 || !TOKEN.test(name) || line.includes("\0")) return undefined;
    const value = line.slice(colon + 1).replace(HTTP_WHITESPACE, "");
    const before = fields[name];
    fields[name] = before === undefined ? value : `${before}, ${value}`;
  }
  const host = fields.host;
  if (!host || host.includes(",")) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${host}${target}`);
  } catch {
    return undefined;
  }
  if (url.host !== host.toLowerCase()) return undefined;
  return { method, url, fields, rest: bytes.subarray(end) };
}

/**
 * The plain request whose head `bytes` begins with (a complete head, and whatever followed it),
 * or undefined when the head is not plain (see the module's documentation).
 */
export function readPlainHead(bytes: Uint8Array): PlainHead | undefined {
  const head = readRequestHead(bytes);
  if (!head) return undefined;
  const { method, fields } = head;
  const length = fields["content-length"] ?? "0";
  if (
    !/^\d{1,15}$/.test(length) ||
    "transfer-encoding" in fields || "expect" in fields || "upgrade" in fields ||
    ((method === "GET" || method === "HEAD") && length !== "0")
  ) return undefined;
  const close = fields.connection?.toLowerCase().split(/\s*,\s*/).includes("close");
  return { ...head, bodyLength: Number(length), close: close === true };
}

/** The reason phrases of the statuses the relay answers with (RFC 9110 §15). */
const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

/** The status line of an answer: the response's own reason phrase, else the standard one. */
function statusLine(response: Response): string {
  const reason = response.statusText || REASONS[response.status] || "";
  return `HTTP/1.1 ${response.status} ${reason}\r\n`;
}

/** Statuses whose answers carry no body (RFC 9110 §6.4.1). */
function bodiless(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

let dateSecond = 0;
let dateText = "";

/** The `Date` field's value for now, made once a second. */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/**
 * The bytes of `response` as an HTTP/1.1 answer to a request of `method`: its head, with the
 * body's length (or none for a bodiless status), and its body unless `method` is `HEAD`. `close`
 * adds `Connection: close`.
 */
export async function answerBytes(
  response: Response,
  options: { method: string; close: boolean },
): Promise<Uint8Array> {
  const { status } = response;
  const body = bodiless(status) ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
  let head = statusLine(response);
  for (const [name, value] of response.headers) {
    if (name !== "connection" && name !== "content-length" && name !== "transfer-encoding") {
      head += `${name}: ${value}\r\n`;
    }
  }
  if (!response.headers.has("date")) head += `date: ${httpDate()}\r\n`;
  if (!bodiless(status)) head += `content-length: ${body.length}\r\n`;
  if (options.close) head += "connection: close\r\n";
  const headBytes = new TextEncoder().encode(`${head}\r\n`);
  const sent = options.method === "HEAD" ? new Uint8Array() : body;
  const answer = new Uint8Array(headBytes.length + sent.length);
  answer.set(headBytes);
  answer.set(sent, headBytes.length);
  return answer;
}
