/**
 * The one way a handler authenticates a signed vault request: verify the signature, count the
 * failure or apply the per-vault hooks (rate limit) once the caller is known.
 *
 * @module
 */
import type { Authenticator, Caller } from "./signatures.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { RequestContext } from "./router.ts";

/** Hooks around authentication: the per-vault rate limit and metrics. */
export interface AuthHooks {
  /** Runs once a signature verified; throws a ProtocolError (e.g. 429) to refuse the caller. */
  readonly verified?: (caller: Caller) => void;
  /** Sees the error code of each failed authentication. */
  readonly failed?: (code: string) => void;
}

/** What authentication needs. */
export interface AuthParts {
  readonly auth: Authenticator;
  readonly authHooks?: AuthHooks;
  /** The client's address key (see `guard/client_address.ts`). */
  readonly addressOf: (context: RequestContext) => string;
}

/** Verifies the request for the vault in its path and runs the hooks. */
export function authenticateRequest(
  parts: AuthParts,
  context: RequestContext,
  hasBody: boolean,
): Caller {
  let caller: Caller;
  try {
    caller = parts.auth.verify(
      { method: context.request.method, url: context.url, headers: context.request.headers },
      { vaultId: context.params.vault ?? "", hasBody, address: parts.addressOf(context) },
    );
  } catch (error) {
    if (error instanceof ProtocolError) parts.authHooks?.failed?.(error.code);
    throw error;
  }
  parts.authHooks?.verified?.(caller);
  return caller;
}
