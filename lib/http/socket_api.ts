/**
 * The live endpoints over HTTP: the device socket's upgrade, presence, and "what is my address".
 *
 * @module
 */
import { authenticateRequest, type AuthParts } from "./authenticate.ts";
import { authorityOf } from "../protocol/signature_base.ts";
import { SOCKET_SUBPROTOCOL } from "../protocol/socket_frames.ts";
import { ProtocolError } from "../protocol/errors.ts";
import {
  presenceTtl,
  validateAuthority,
  validateDevice,
  validateVaultId,
} from "../protocol/validate.ts";
import { jsonResponse } from "./errors.ts";
import { readBody } from "./body.ts";
import { DeviceSession, type SessionParts } from "../live/session.ts";
import type { SocketRegistry } from "../live/registry.ts";
import type { UpgradedSocket } from "../guard/socket_lifecycle.ts";
import type { HttpLimits } from "../limits.ts";
import type { RequestContext, Router } from "./router.ts";

/** What the live endpoints need. */
export interface LiveApiParts extends AuthParts {
  readonly session: Omit<SessionParts, "onClosed" | "lifecycle">;
  readonly sockets: SocketRegistry<DeviceSession>;
  readonly httpLimits: HttpLimits;
  /** The relay's public `@authority` (`--public-url`); `null` accepts any. */
  readonly publicAuthority: string | null;
  /** Upgrades a request to a WebSocket offering a subprotocol (see `HttpListener`). */
  readonly upgradeSocket: (request: Request, protocol: string | undefined) => UpgradedSocket;
  /** The caller's address as the relay sees it (honouring a trusted proxy). */
  readonly clientAddress: (context: RequestContext) => { hostname: string; port: number };
}

function upgrade(context: RequestContext, parts: LiveApiParts): Response {
  const vaultId = context.params.vault ?? "";
  const vaultKey = validateVaultId(vaultId);
  const deviceId = validateDevice(context.url.searchParams.get("device"), "device=");
  const headers = context.request.headers;
  if (
    headers.get("upgrade")?.toLowerCase() !== "websocket" ||
    !/\bupgrade\b/i.test(headers.get("connection") ?? "") ||
    !headers.get("sec-websocket-key") ||
    headers.get("sec-websocket-version")?.trim() !== "13"
  ) {
    throw new ProtocolError(
      "not_websocket",
      "This endpoint takes a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade, " +
        "Sec-WebSocket-Key, Sec-WebSocket-Version: 13)",
    );
  }
  const offered = (headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  // Read before upgrading: the request's headers are gone afterwards.
  const authority = authorityOf(headers.get("host") ?? context.url.host);
  validateAuthority(authority, parts.publicAuthority);
  const address = parts.addressOf(context);
  const { socket, response, lifecycle } = parts.upgradeSocket(
    context.request,
    offered.includes(SOCKET_SUBPROTOCOL) ? SOCKET_SUBPROTOCOL : undefined,
  );
  const session = new DeviceSession(socket, { vaultId, vaultKey, deviceId, authority, address }, {
    ...parts.session,
    lifecycle,
    onClosed: (closed) => parts.sockets.delete(closed),
  });
  parts.sockets.add(session);
  return response;
}

/** Adds the socket, presence and address endpoints to `router`. */
export function addLiveRoutes(router: Router, parts: LiveApiParts): Router {
  const { auth } = parts;
  const { presence, hub, mode } = parts.session;
  const authenticate = (context: RequestContext, hasBody: boolean) =>
    authenticateRequest(parts, context, hasBody);

  const publishPresence = async (context: RequestContext) => {
    const caller = authenticate(context, true);
    const body = await readBody(context, {
      limit: presence.limits.maxBlobBytes,
      timeoutMs: parts.httpLimits.bodyTimeoutMs,
    });
    auth.verifyBody(context.request.headers, body);
    const ttl = presenceTtl(context.url.searchParams.get("ttl"), presence.limits.maxTtlSeconds);
    await mode.touch(caller.vaultId, caller.deviceId);
    const entry = presence.publish({
      vault: caller.vaultId,
      device: caller.deviceId,
      blob: body,
      ttlSeconds: ttl,
      address: caller.address,
    });
    return jsonResponse({ expires_at: entry.expiresAt });
  };

  const listPresence = (context: RequestContext) => {
    const caller = authenticate(context, false);
    const connected = hub.devicesConnected(caller.vaultId);
    const entries = presence.list(caller.vaultId);
    const devices = entries.map((entry) => ({
      device: entry.device,
      blob: entry.blob.toBase64(),
      published_at: entry.publishedAt,
      expires_at: entry.expiresAt,
      connected: connected.has(entry.device),
    }));
    for (const device of connected) {
      if (!entries.some((entry) => entry.device === device)) {
        devices.push({ device, blob: "", published_at: 0, expires_at: 0, connected: true });
      }
    }
    return jsonResponse({ devices });
  };

  const address = (context: RequestContext) => {
    const { hostname, port } = parts.clientAddress(context);
    return jsonResponse({ address: hostname, port });
  };

  return router
    .add("GET", "/v3/vaults/:vault/socket", (context) => upgrade(context, parts))
    .add("PUT", "/v3/vaults/:vault/presence", publishPresence)
    .add("GET", "/v3/vaults/:vault/presence", listPresence)
    .add("GET", "/v3/address", address);
}
