/**
 * The relay's version, read from `deno.json` so that it is written down once.
 *
 * @module
 */
import manifest from "../deno.json" with { type: "json" };

/** The relay's version, e.g. `0.1.0`. */
export const VERSION: string = manifest.version;

/** The protocol this relay speaks, as sent in `X-VaultMesh-Protocol`. */
export const PROTOCOL_VERSION = "3";

/** The protocol name reported by `/health`. */
export const PROTOCOL_NAME = `vaultmesh-relay-${PROTOCOL_VERSION}`;
