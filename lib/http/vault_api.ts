/**
 * The signed vault endpoints of protocol 3: send, backlog (with long poll), ack, usage and
 * purge. Handlers authenticate, check the protocol's rules (`protocol/validate.ts`), call the
 * mode and render its outcome (a backlog page as JSON or as binary frames, by `Accept`:
 * `backlog_response.ts`); refusals travel as thrown `ProtocolError`s.
 *
 * @module
 */
import type { Caller } from "./signatures.ts";
import type { Hub } from "../live/hub.ts";
import type { PresenceBoard } from "../live/presence.ts";
import type { RelayMode } from "../modes/mode.ts";
import type { Envelope, SendOutcome } from "../protocol/envelope.ts";
import {
  integerParameter,
  isSeq,
  validateIdempotencyKey,
  validateRecipient,
} from "../protocol/validate.ts";
import type { HttpLimits } from "../limits.ts";
import type { LongPolls } from "../guard/long_polls.ts";
import { jsonResponse } from "./errors.ts";
import { backlogResponse } from "./backlog_response.ts";
import { readBody, readJson } from "./body.ts";
import type { RequestContext, Router } from "./router.ts";
import { authenticateRequest, type AuthParts } from "./authenticate.ts";

/** What the vault endpoints need. */
export interface VaultApiParts extends AuthParts {
  readonly mode: RelayMode;
  /** Presence is forgotten with the vault on purge. */
  readonly presence: PresenceBoard;
  readonly hub: Hub;
  readonly httpLimits: HttpLimits;
  /** Long polls waiting now, bounded per address, per vault and in total. */
  readonly longPolls: LongPolls;
}

function queryInteger(url: URL, name: string, range: { min: number; max: number }) {
  return integerParameter(name, url.searchParams.get(name), range);
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
  }
}

/**
 * Waits until an envelope for the device is published, the time is up, the caller leaves or the
 * long-poll table needs the room.
 */
function waitForEnvelope(
  parts: VaultApiParts,
  caller: Caller,
  options: { seconds: number; signal: AbortSignal },
): Promise<Envelope[]> {
  const received: Envelope[] = [];
  const { promise, resolve } = Promise.withResolvers<Envelope[]>();
  const leave = parts.longPolls.enter({
    address: caller.address,
    vault: caller.vaultId,
    wake: () => finish(),
  });
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
    leave();
    clearTimeout(timer);
    options.signal.removeEventListener("abort", finish);
    unsubscribe();
    resolve(received);
  }
  return promise;
}

/** Adds the vault endpoints to `router`. */
export function addVaultRoutes(router: Router, parts: VaultApiParts): Router {
  const { mode, auth, httpLimits: limits } = parts;

  const authenticate = (context: RequestContext, hasBody: boolean) =>
    authenticateRequest(parts, context, hasBody);

  const send = async (context: RequestContext) => {
    const caller = authenticate(context, true);
    const to = validateRecipient(context.url.searchParams.get("to"), caller.deviceId);
    const idempotencyKey = validateIdempotencyKey(context.request.headers.get("idempotency-key"));
    const body = await readBody(context, {
      limit: limits.maxEnvelopeBytes,
      timeoutMs: limits.bodyTimeoutMs,
    });
    auth.verifyBody(context.request.headers, body);
    const outcome = await mode.send({
      vault: caller.vaultId,
      from: caller.deviceId,
      to,
      body,
      idempotencyKey,
      origin: caller.address,
    });
    return sendResponse(outcome);
  };

  const backlog = async (context: RequestContext) => {
    const caller = authenticate(context, false);
    await mode.touch(caller.vaultId, caller.deviceId);
    const after = queryInteger(context.url, "after", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const limit = queryInteger(context.url, "limit", { min: 1, max: limits.maxPageEnvelopes }) ??
      limits.maxPageEnvelopes;
    const wait = queryInteger(context.url, "wait", { min: 0, max: limits.maxWaitSeconds }) ?? 0;
    const query = {
      vault: caller.vaultId,
      device: caller.deviceId,
      after,
      limit,
      maxBytes: limits.maxPageBytes,
    };
    let page = await mode.backlog(query);
    let envelopes = page.envelopes;
    if (envelopes.length === 0 && wait > 0) {
      const live = await waitForEnvelope(parts, caller, {
        seconds: wait,
        signal: context.request.signal,
      });
      page = await mode.backlog(query);
      envelopes = mode.buffering === "enabled" ? page.envelopes : live;
    }
    const last = envelopes.at(-1)?.seq;
    return backlogResponse(context.request, {
      envelopes,
      acked: page.acked,
      latestSeq: page.latestSeq,
      more: mode.buffering === "enabled" && last !== undefined && last < page.latestSeq,
    });
  };

  const ack = async (context: RequestContext) => {
    const caller = authenticate(context, true);
    const body = await readBody(context, {
      limit: limits.maxAckBytes,
      timeoutMs: limits.bodyTimeoutMs,
    });
    auth.verifyBody(context.request.headers, body);
    const { seq } = readJson(
      body,
      (value): value is { seq: number } => isSeq((value as { seq?: unknown })?.seq),
      'a JSON object {"seq": <non-negative integer>}',
    );
    const outcome = await mode.ack(caller.vaultId, caller.deviceId, seq);
    return jsonResponse({ acked: outcome.acked, deleted: outcome.deleted });
  };

  const usage = async (context: RequestContext) => {
    const caller = authenticate(context, false);
    await mode.touch(caller.vaultId, caller.deviceId);
    const usage = await mode.usage(caller.vaultId);
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
    const caller = authenticate(context, false);
    parts.presence.clear(caller.vaultId);
    return jsonResponse({ purged: true, envelopes: await mode.purge(caller.vaultId) });
  };

  return router
    .add("POST", "/v3/vaults/:vault/envelopes", send)
    .add("POST", "/v3/vaults/:vault/ack", ack)
    .add("GET", "/v3/vaults/:vault/envelopes", backlog)
    .add("GET", "/v3/vaults/:vault", usage)
    .add("DELETE", "/v3/vaults/:vault", purge);
}
