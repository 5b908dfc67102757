/**
 * The live endpoints: the device socket, presence over HTTP, and "what is my address".
 *
 * @module
 */
import { requireVaultKey } from "./signatures.ts";
import { authenticateRequest, type AuthParts } from "./authenticate.ts";
import { isDeviceId } from "../protocol/identity.ts";
import { authorityOf } from "../protocol/signature_base.ts";
import { SOCKET_SUBPROTOCOL } from "../protocol/socket_frames.ts";
import { HttpError, jsonResponse } from "./errors.ts";
import { readBody } from "./body.ts";
import { CLOSE, DeviceSocket, type SocketParts } from "../live/session.ts";
import type { RequestContext, Router } from "./router.ts";

/** Every open device socket, so that a stopping relay can close them. */
export class SocketRegistry {
  readonly #sockets = new Set<DeviceSocket>();

  /** `onCountChanged` hears the number of open sockets after each change (for metrics). */
  constructor(private readonly onCountChanged: (count: number) => void = () => {}) {}

  /** Tracks a socket until it closes. */
  add(socket: DeviceSocket): void {
    this.#sockets.add(socket);
    this.onCountChanged(this.#sockets.size);
  }

  /** Forgets a closed socket. */
  delete(socket: DeviceSocket): void {
    if (this.#sockets.delete(socket)) this.onCountChanged(this.#sockets.size);
  }

  /** Open sockets. */
  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Closes every socket with 4012 (relay restarting) so devices reconnect later, and waits up
   * to `timeoutMs` for the closing handshakes.
   */
  async closeAll(timeoutMs = 2000): Promise<void> {
    const closing = [...this.#sockets].map((socket) =>
      socket.closeAndWait(CLOSE.restarting, "relay restarting; reconnect later")
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([Promise.all(closing), timeout]);
    clearTimeout(timer);
    this.#sockets.clear();
    this.onCountChanged(0);
  }
}

/** What the live endpoints need. */
export interface LiveApiParts extends SocketParts, AuthParts {
  readonly sockets: SocketRegistry;
  /** The caller's address as the relay sees it (honouring a trusted proxy). */
  readonly clientAddress: (context: RequestContext) => { hostname: string; port: number };
}

function upgrade(context: RequestContext, parts: LiveApiParts): Response {
  const vaultId = context.params.vault ?? "";
  const vaultKey = requireVaultKey(vaultId);
  const deviceId = context.url.searchParams.get("device") ?? "";
  if (!isDeviceId(deviceId)) {
    throw new HttpError(
      400,
      "bad_device",
      "device= must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
    );
  }
  if (context.request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError(400, "not_websocket", "This endpoint takes a WebSocket upgrade");
  }
  const offered = (context.request.headers.get("sec-websocket-protocol") ?? "").split(",")
    .map((p) => p.trim());
  // Read before upgrading: the request's headers are gone afterwards.
  const authority = authorityOf(context.request.headers.get("host") ?? context.url.host);
  const idleTimeout = parts.limits.socketIdleTimeoutSeconds;
  const { socket, response } = Deno.upgradeWebSocket(
    context.request,
    offered.includes(SOCKET_SUBPROTOCOL)
      ? { protocol: SOCKET_SUBPROTOCOL, idleTimeout }
      : { idleTimeout },
  );
  const device = new DeviceSocket(socket, { vaultId, vaultKey, deviceId, authority }, parts);
  parts.sockets.add(device);
  socket.addEventListener("close", () => parts.sockets.delete(device));
  return response;
}

/** Adds the socket, presence and address endpoints to `router`. */
export function addLiveRoutes(router: Router, parts: LiveApiParts): Router {
  const { auth, presence, hub, mode } = parts;
  const authenticate = (context: RequestContext, hasBody: boolean) =>
    authenticateRequest(parts, context, hasBody);

  const publishPresence = async (context: RequestContext) => {
    const caller = await authenticate(context, true);
    const body = await readBody(
      context.request,
      presence.limits.maxBlobBytes,
      parts.limits.bodyTimeoutMs,
    );
    await auth.verifyBody(context.request.headers, body);
    const rawTtl = context.url.searchParams.get("ttl") ?? "300";
    const ttl = /^\d{1,5}$/.test(rawTtl) ? Number(rawTtl) : NaN;
    if (!(ttl >= 1 && ttl <= presence.limits.maxTtlSeconds)) {
      throw new HttpError(
        400,
        "bad_parameter",
        `ttl=${JSON.stringify(rawTtl)} must be 1 to ${presence.limits.maxTtlSeconds} seconds`,
      );
    }
    mode.touch(caller.vaultId, caller.deviceId);
    const entry = presence.publish(caller.vaultId, caller.deviceId, body, ttl);
    if (!entry) {
      throw new HttpError(503, "presence_full", "The relay holds too many presence blobs", {
        "retry-after": "60",
      });
    }
    return jsonResponse({ expires_at: entry.expiresAt });
  };

  const listPresence = async (context: RequestContext) => {
    const caller = await authenticate(context, false);
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
