/**
 * The signed vault endpoints of protocol 3: send, backlog (with long poll), ack, usage and
 * purge. Handlers authenticate, translate HTTP to mode calls and mode outcomes to HTTP.
 *
 * @module
 */
import type { Caller } from "./signatures.ts";
import type { Hub } from "../live/hub.ts";
import { isDeviceId, isIdempotencyKey } from "../protocol/identity.ts";
import type { PresenceBoard } from "../live/presence.ts";
import type { Envelope, RelayMode, SendOutcome } from "../modes/mode.ts";
import { StorageFullError } from "../store/envelopes.ts";
import { HttpError, jsonResponse } from "./errors.ts";
import { readBody, readJson } from "./body.ts";
import type { RequestContext, Router } from "./router.ts";
import { authenticateRequest, type AuthParts } from "./authenticate.ts";

/** Limits of the vault endpoints. */
export interface VaultApiLimits {
  /** Largest envelope body accepted, in bytes. */
  readonly maxEnvelopeBytes: number;
  /** Longest long poll, in seconds. */
  readonly maxWaitSeconds: number;
  /** Most envelopes per backlog page. */
  readonly maxPageEnvelopes: number;
  /** About how many body bytes per backlog page. */
  readonly maxPageBytes: number;
  /** How long a request body may take to arrive, in milliseconds. */
  readonly bodyTimeoutMs?: number;
}

/** What the vault endpoints need. */
export interface VaultApiParts extends AuthParts {
  readonly mode: RelayMode;
  /** Presence is forgotten with the vault on purge. */
  readonly presence: PresenceBoard;
  readonly hub: Hub;
  readonly limits: VaultApiLimits;
}

function integerParam(url: URL, name: string, range: { min: number; max: number }) {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw new HttpError(
      400,
      "bad_parameter",
      `Query parameter ${name}=${
        JSON.stringify(raw)
      } must be an integer from ${range.min} to ${range.max}`,
    );
  }
  return value;
}

function envelopeJson(envelope: Envelope) {
  return {
    seq: envelope.seq,
    from: envelope.from,
    to: envelope.to,
    created_at: envelope.createdAt,
    expires_at: envelope.expiresAt,
    size: envelope.body.byteLength,
    body: envelope.body.toBase64(),
  };
}

function sendResponse(outcome: SendOutcome): Response {
  switch (outcome.kind) {
    case "stored":
      return jsonResponse({
        seq: outcome.seq,
        stored: true,
        expires_at: outcome.expiresAt,
        recipients: outcome.recipients,
      }, { status: 201 });
    case "duplicate":
      return jsonResponse({ seq: outcome.seq, duplicate: true });
    case "delivered":
      return jsonResponse({ seq: outcome.seq, stored: false, recipients: outcome.recipients });
    case "full":
      throw new HttpError(
        507,
        "buffer_full",
        `The vault's buffer holds ${outcome.used} of ${outcome.limit} bytes and this envelope ` +
          "does not fit; wait for devices to acknowledge",
        {},
        { used: outcome.used, limit: outcome.limit },
      );
  }
}

/** Waits until an envelope for the device is published, the time is up or the caller leaves. */
function waitForEnvelope(
  parts: VaultApiParts,
  caller: Caller,
  options: { seconds: number; signal: AbortSignal },
): Promise<Envelope[]> {
  const received: Envelope[] = [];
  const { promise, resolve } = Promise.withResolvers<Envelope[]>();
  const unsubscribe = parts.hub.subscribe(caller.vaultId, {
    device: caller.deviceId,
    deliver(envelope) {
      received.push(envelope);
      queueMicrotask(finish);
      return true;
    },
  });
  const timer = setTimeout(finish, options.seconds * 1000);
  options.signal.addEventListener("abort", finish, { once: true });
  function finish() {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", finish);
    unsubscribe();
    resolve(received);
  }
  return promise;
}

/** Adds the vault endpoints to `router`. */
export function addVaultRoutes(router: Router, parts: VaultApiParts): Router {
  const { mode, auth, limits } = parts;

  const authenticate = (context: RequestContext, hasBody: boolean) =>
    authenticateRequest(parts, context, hasBody);

  const send = async (context: RequestContext) => {
    const caller = await authenticate(context, true);
    const to = context.url.searchParams.get("to");
    if (to !== null && (!isDeviceId(to) || to === caller.deviceId)) {
      throw new HttpError(400, "bad_recipient", "to must be another device id of the vault");
    }
    const idempotencyKey = context.request.headers.get("idempotency-key") ?? undefined;
    if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
      throw new HttpError(
        400,
        "bad_idempotency_key",
        "Idempotency-Key must be 1 to 128 visible ASCII characters",
      );
    }
    const body = await readBody(context.request, limits.maxEnvelopeBytes, limits.bodyTimeoutMs);
    await auth.verifyBody(context.request.headers, body);
    try {
      return sendResponse(
        await mode.send({ vault: caller.vaultId, from: caller.deviceId, to, body, idempotencyKey }),
      );
    } catch (error) {
      if (error instanceof StorageFullError) {
        throw new HttpError(507, "storage_full", "The relay's disk is full; nothing was stored", {
          "retry-after": "60",
        });
      }
      throw error;
    }
  };

  const backlog = async (context: RequestContext) => {
    const caller = await authenticate(context, false);
    mode.touch(caller.vaultId, caller.deviceId);
    const after = integerParam(context.url, "after", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const limit = integerParam(context.url, "limit", { min: 1, max: limits.maxPageEnvelopes }) ??
      limits.maxPageEnvelopes;
    const wait = integerParam(context.url, "wait", { min: 0, max: limits.maxWaitSeconds }) ?? 0;
    const query = {
      vault: caller.vaultId,
      device: caller.deviceId,
      after,
      limit,
      maxBytes: limits.maxPageBytes,
    };
    let page = mode.backlog(query);
    let envelopes = page.envelopes;
    if (envelopes.length === 0 && wait > 0) {
      const live = await waitForEnvelope(parts, caller, {
        seconds: wait,
        signal: context.request.signal,
      });
      page = mode.backlog(query);
      envelopes = mode.buffering === "enabled" ? page.envelopes : live;
    }
    const last = envelopes.at(-1)?.seq;
    return jsonResponse({
      envelopes: envelopes.map(envelopeJson),
      acked: page.acked,
      latest_seq: page.latestSeq,
      more: mode.buffering === "enabled" && last !== undefined && last < page.latestSeq,
    });
  };

  const ack = async (context: RequestContext) => {
    const caller = await authenticate(context, true);
    const body = await readBody(context.request, 1024, limits.bodyTimeoutMs);
    await auth.verifyBody(context.request.headers, body);
    const { seq } = readJson(
      body,
      (value): value is { seq: number } =>
        Number.isSafeInteger((value as { seq?: unknown })?.seq) &&
        (value as { seq: number }).seq >= 0,
      'a JSON object {"seq": <non-negative integer>}',
    );
    const outcome = mode.ack(caller.vaultId, caller.deviceId, seq);
    if (outcome.kind === "beyond_latest") {
      throw new HttpError(
        409,
        "ack_beyond_latest",
        `Cannot acknowledge seq ${seq}: the latest seq of this vault is ${outcome.latest}`,
        {},
        { latest_seq: outcome.latest },
      );
    }
    return jsonResponse({ acked: outcome.acked, deleted: outcome.deleted });
  };

  const usage = async (context: RequestContext) => {
    const caller = await authenticate(context, false);
    mode.touch(caller.vaultId, caller.deviceId);
    const usage = mode.usage(caller.vaultId);
    return jsonResponse({
      mode: mode.name,
      used_bytes: usage.usedBytes,
      limit_bytes: usage.limitBytes,
      envelopes: usage.envelopes,
      devices: usage.devices,
      latest_seq: usage.latestSeq,
    });
  };

  const purge = async (context: RequestContext) => {
    const caller = await authenticate(context, false);
    parts.presence.clear(caller.vaultId);
    return jsonResponse({ purged: true, envelopes: mode.purge(caller.vaultId) });
  };

  return router
    .add("POST", "/v3/vaults/:vault/envelopes", send)
    .add("GET", "/v3/vaults/:vault/envelopes", backlog)
    .add("POST", "/v3/vaults/:vault/ack", ack)
    .add("GET", "/v3/vaults/:vault", usage)
    .add("DELETE", "/v3/vaults/:vault", purge);
}
