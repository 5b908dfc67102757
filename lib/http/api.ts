/**
 * The relay's HTTP surface: which routes exist and which handler answers each.
 *
 * @module
 */
import { jsonResponse } from "./errors.ts";
import { Router, type RouterHooks } from "./router.ts";
import { PROTOCOL_NAME } from "../version.ts";
import type { RelayMode } from "../modes/mode.ts";
import { addVaultRoutes, type VaultApiParts } from "./vault_api.ts";
import { addLiveRoutes, type LiveApiParts } from "./socket_api.ts";
import { statusPageResponse } from "./status_page.ts";

/** The parts of the relay the HTTP surface needs. */
export type ApiParts = VaultApiParts & LiveApiParts & {
  readonly routerHooks?: RouterHooks;
  /** This relay's name among shards (`--shard-name`), for the shard header and the status page. */
  readonly shardName?: string;
  /** Why the relay's storage is unusable now (a sentence without paths), or `undefined`. */
  readonly storageFault?: () => string | undefined;
};

/**
 * `GET /health`: exactly the shape the product documents while healthy; 503 with
 * `"status": "error"` and a `reason` while the storage is unusable.
 */
function healthResponse(mode: RelayMode, fault: string | undefined): Response {
  const body = {
    status: fault === undefined ? "ok" : "error",
    protocol: PROTOCOL_NAME,
    mode: mode.name,
    buffering: mode.buffering,
  };
  if (fault === undefined) return jsonResponse(body);
  return jsonResponse({ ...body, reason: fault }, { status: 503 });
}

/** Builds the router for the relay's HTTP API. */
export function createApi(parts: ApiParts): Router {
  const started = performance.now();
  const router = new Router(parts.routerHooks, { shardName: parts.shardName })
    .add("GET", "/health", () => healthResponse(parts.mode, parts.storageFault?.()), "instant")
    .add(
      "GET",
      "/",
      () =>
        statusPageResponse({
          mode: parts.mode,
          uptimeSeconds: (performance.now() - started) / 1000,
          shardName: parts.shardName,
        }),
      "instant",
    );
  return addLiveRoutes(addVaultRoutes(router, parts), parts);
}
