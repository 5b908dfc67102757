/**
 * Routing: method and path matching, the protocol-3 gate on `/v3/`, CORS, the headers every
 * response carries, and turning thrown {@linkcode ProtocolError}s into JSON. Handlers throw; the
 * router answers.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorResponse, internalErrorResponse } from "./errors.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { BACKLOG_PAGE_HEADERS } from "../protocol/backlog_page.ts";
import type { BudgetHold } from "../guard/byte_budget.ts";
import type { RouteAdmission } from "../guard/admission.ts";

/** The hold of a router without a budget. */
const UNBOUNDED: BudgetHold = { take: () => {}, release: () => {} };
import { PROTOCOL_VERSION } from "../version.ts";

/** The header every client sends and every response carries. */
export const PROTOCOL_HEADER = "x-vaultmesh-protocol";

/** The header naming which relay answered, when several serve one public URL (`--shard-name`). */
export const SHARD_HEADER = "x-vaultmesh-shard";

/** What a handler gets: the request, its URL, path parameters and connection info. */
export interface RequestContext {
  readonly request: Request;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly info: Deno.ServeHandlerInfo<Deno.NetAddr>;
  /** The request's hold on the relay's memory budget, released once it is answered. */
  readonly hold: BudgetHold;
}

/** A route handler. Throws {@linkcode ProtocolError} for anything but success. */
export type Handler = (context: RequestContext) => Response | Promise<Response>;

interface Route {
  readonly method: string;
  readonly path: string;
  /** The path split at `/`; a segment starting with `:` names a parameter. */
  readonly segments: readonly string[];
  readonly handler: Handler;
  readonly admission: RouteAdmission;
}

/** The route's parameters if `pathSegments` fits it, else undefined. */
function matchSegments(
  route: Route,
  pathSegments: readonly string[],
): Record<string, string> | undefined {
  if (route.segments.length !== pathSegments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pathSegments.length; i++) {
    const expected = route.segments[i]!;
    const actual = pathSegments[i]!;
    if (expected.startsWith(":")) {
      if (actual === "") return undefined;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) return undefined;
  }
  return params;
}

const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": [
    "retry-after, x-vaultmesh-protocol, x-vaultmesh-shard",
    ...Object.values(BACKLOG_PAGE_HEADERS),
  ].join(", "),
};

const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-headers":
    "content-type, content-digest, signature, signature-input, idempotency-key, " +
    "x-vaultmesh-protocol, x-vaultmesh-device",
  "access-control-max-age": "86400",
};

const log = getLogger(["vaultmesh-relay", "http"]);

/** Whether a request speaks protocol 3, by header or (for browser sockets) by subprotocol. */
function speaksProtocol(request: Request): boolean {
  if (request.headers.get(PROTOCOL_HEADER) === PROTOCOL_VERSION) return true;
  const subprotocols = request.headers.get("sec-websocket-protocol") ?? "";
  return subprotocols.split(",").some((p) => p.trim() === `vaultmesh.${PROTOCOL_VERSION}`);
}

function protocolMismatch(request: Request): ProtocolError {
  const got = request.headers.get(PROTOCOL_HEADER);
  return new ProtocolError(
    "protocol_mismatch",
    `This relay speaks VaultMesh protocol ${PROTOCOL_VERSION}; send the header ` +
      `X-VaultMesh-Protocol: ${PROTOCOL_VERSION} (got ${
        got === null ? "none" : JSON.stringify(got)
      })`,
    {
      headers: { upgrade: `vaultmesh/${PROTOCOL_VERSION}` },
      details: { supported: Number(PROTOCOL_VERSION) },
    },
  );
}

/**
 * Whether `request` comes with a body nothing read (`readBody` answers a body it stopped reading
 * with `Connection: close` itself).
 */
function hasUntouchedBody(request: Request): boolean {
  // HTTP/1.1 frames a body with one of these (Deno gives a bodiless DELETE an empty stream).
  const length = Number(request.headers.get("content-length") ?? 0);
  const declared = length > 0 || request.headers.has("transfer-encoding");
  return declared && request.body !== null && !request.bodyUsed;
}

function withStandardHeaders(response: Response, shardName: string | undefined): Response {
  // A WebSocket upgrade's headers are immutable; its handshake already carries what it needs.
  if (response.status === 101) return response;
  response.headers.set(PROTOCOL_HEADER, PROTOCOL_VERSION);
  if (shardName !== undefined) response.headers.set(SHARD_HEADER, shardName);
  response.headers.set("x-content-type-options", "nosniff");
  if (!response.headers.has("cache-control")) response.headers.set("cache-control", "no-store");
  for (const [name, value] of Object.entries(CORS_HEADERS)) response.headers.set(name, value);
  return response;
}

/**
 * The request's URL. Deno builds it from the `Host` header, so a malformed host (`[::1`,
 * `a b`, a port above 65535) makes it unparsable: that is the client's error, not the relay's.
 */
function requestUrl(request: Request): URL {
  try {
    return new URL(request.url);
  } catch {
    throw new ProtocolError(
      "bad_request",
      "The request's Host header and target do not form a valid URL",
    );
  }
}

/** Hooks around every request: admission before routing, observation after answering. */
export interface RouterHooks {
  /** Admits a request (or throws the ProtocolError answering it); returns its release. */
  readonly admit?: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    admission: RouteAdmission,
  ) => () => void;
  /** A hold on the memory budget for one request; none means unbounded (tests of the router). */
  readonly hold?: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => BudgetHold;
  /** Sees each answer's route pattern (`unmatched` when none matched) and status. */
  readonly observe?: (route: string, status: number) => void;
}

/** Settings of a {@linkcode Router} beyond its hooks. */
export interface RouterOptions {
  /** This relay's name among shards, sent in `X-VaultMesh-Shard` on every answer; none: omitted. */
  readonly shardName?: string | undefined;
}

/** What handling a request found out: its route pattern and the release of its admission. */
interface Matched {
  route: string;
  release?: (() => void) | undefined;
  hold: BudgetHold;
}

/** Method-and-path routing with the relay's cross-cutting HTTP rules. */
export class Router {
  readonly #routes: Route[] = [];

  constructor(
    private readonly hooks: RouterHooks = {},
    private readonly options: RouterOptions = {},
  ) {}

  /** Adds a route. `path` is a pathname where `:name` segments are parameters: `/v3/vaults/:vault`. */
  add(method: string, path: string, handler: Handler, admission: RouteAdmission = "counted"): this {
    this.#routes.push({ method, path, segments: path.split("/"), handler, admission });
    return this;
  }

  /** Answers a request. Never throws. */
  async handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    let response: Response;
    const matched: Matched = {
      route: "unmatched",
      hold: this.hooks.hold?.(request, info) ?? UNBOUNDED,
    };
    try {
      response = await this.#dispatch(request, info, matched);
    } catch (error) {
      response = error instanceof ProtocolError ? errorResponse(error) : this.#internalError(error);
    } finally {
      matched.release?.();
      matched.hold.release();
    }
    this.hooks.observe?.(matched.route, response.status);
    if (response.status >= 400 && hasUntouchedBody(request)) {
      // Refused without reading the body: the client is asked to close, not to send it on.
      response.headers.set("connection", "close");
    }
    return withStandardHeaders(response, this.options.shardName);
  }

  #internalError(error: unknown): Response {
    log.error("Unexpected error while handling a request: {error}", { error });
    return internalErrorResponse();
  }

  async #dispatch(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    matched: Matched,
  ): Promise<Response> {
    const url = requestUrl(request);
    const pathSegments = url.pathname.split("/");
    const matches = this.#routes
      .map((route) => ({ route, params: matchSegments(route, pathSegments) }))
      .filter((candidate) => candidate.params !== undefined);
    if (matches[0]) matched.route = matches[0].route.path;
    matched.release = this.hooks.admit?.(request, info, matches[0]?.route.admission ?? "counted");
    const isPreflight = request.method === "OPTIONS";
    if (!isPreflight && url.pathname.startsWith("/v3/") && !speaksProtocol(request)) {
      throw protocolMismatch(request);
    }
    if (matches.length === 0) {
      throw new ProtocolError("not_found", `No such endpoint: ${request.method} ${url.pathname}`);
    }
    const allowed = [...new Set(matches.map((m) => m.route.method))];
    if (isPreflight) {
      return new Response(null, {
        status: 204,
        headers: {
          ...PREFLIGHT_HEADERS,
          "access-control-allow-methods": [...allowed, "OPTIONS"].join(", "),
        },
      });
    }
    const found = matches.find((m) =>
      m.route.method === request.method || (m.route.method === "GET" && request.method === "HEAD")
    );
    if (!found) {
      throw new ProtocolError(
        "method_not_allowed",
        `${request.method} is not allowed on ${url.pathname}; use ${allowed.join(" or ")}`,
        { headers: { allow: [...allowed, "OPTIONS"].join(", ") } },
      );
    }
    return await found.route.handler({
      request,
      url,
      params: found.params!,
      info,
      hold: matched.hold,
    });
  }
}
