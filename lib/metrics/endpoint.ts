/**
 * The scrape endpoint: `GET /metrics` with an optional bearer token, and the metrics listener
 * that serves it.
 *
 * @module
 */
import type { Metrics } from "./metrics.ts";

function sameToken(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i]!;
  return difference === 0;
}

/** Answers a scrape: `GET /metrics`, with `Authorization: Bearer <token>` when a token is set. */
export async function metricsResponse(
  request: Request,
  options: { metrics: Metrics; token: string },
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname !== "/metrics") return new Response("Not found: scrape /metrics\n", { status: 404 });
  if (request.method !== "GET") return new Response("Use GET\n", { status: 405 });
  const given = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
  if (options.token !== "" && !sameToken(given, options.token)) {
    return new Response("Send Authorization: Bearer <--metrics-token>\n", {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="metrics"' },
    });
  }
  return new Response(await options.metrics.text(), {
    headers: { "content-type": options.metrics.contentType },
  });
}

/**
 * Serves the scrape endpoint on its own address (`--metrics-listen`), apart from the API. Stop it
 * with `shutdown()`.
 *
 * @throws {Deno.errors.AddrInUse} and the other errors of binding the address.
 */
export function serveMetrics(
  address: { readonly hostname: string; readonly port: number },
  options: { metrics: Metrics; token: string },
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
    handler: (request) => metricsResponse(request, options),
  });
}
