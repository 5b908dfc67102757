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
};

/** `GET /health`: exactly the shape the product documents. */
function healthBody(mode: RelayMode) {
  return {
    status: "ok",
    protocol: PROTOCOL_NAME,
    mode: mode.name,
    buffering: mode.buffering,
  };
}

/** Builds the router for the relay's HTTP API. */
export function createApi(parts: ApiParts): Router {
  const started = performance.now();
  const router = new Router(parts.routerHooks, { shardName: parts.shardName })
    .add("GET", "/health", () => jsonResponse(healthBody(parts.mode)))
    .add("GET", "/", () =>
      statusPageResponse({
        mode: parts.mode,
        uptimeSeconds: (performance.now() - started) / 1000,
        shardName: parts.shardName,
      }));
  return addLiveRoutes(addVaultRoutes(router, parts), parts);
}
