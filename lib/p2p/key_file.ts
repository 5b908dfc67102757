/**
 * Where a relay without a database (stateless mode) keeps its libp2p key: a file beside the
 * `--db` path. Free of libp2p, so the banner can name the file without loading it.
 *
 * @module
 */
import { dirname, resolve } from "node:path";

/**
 * The key file cannot be read or written. Its `name` is checked by the entry point, which must not
 * import lib/p2p/ (that would load libp2p with p2p off). Exit status 1.
 */
export class P2pKeyError extends Error {
  override name = "P2pKeyError";
}

/** Where the protobuf-encoded private key is kept. */
export interface IdentityStore {
  /** The stored key, or undefined before the first start. */
  read(): Uint8Array | undefined;
  write(key: Uint8Array): void;
}

/** The `--db` of a relay that keeps nothing on disk; its key then lives as long as the process. */
const IN_MEMORY = ":memory:";

/**
 * The key file of a relay without a database: beside the `--db` path, named like it with
 * `.p2p-key` for `.db` (`relay.db` → `relay.p2p-key`); none for `--db :memory:`.
 */
export function identityFilePath(db: string): string | undefined {
  return db === IN_MEMORY ? undefined : `${db.replace(/\.db$/, "")}.p2p-key`;
}

/** Where a relay without a database keeps its key: the file beside `db`, or memory. */
export function identityBeside(db: string): IdentityStore {
  const path = identityFilePath(db);
  if (path !== undefined) return fileIdentity(path);
  let key: Uint8Array | undefined;
  return { read: () => key, write: (written) => key = written };
}

/**
 * The key in the file at `path`, readable by its owner only. Written whole or not at all (a
 * temporary file renamed over it), so a crash while writing leaves no half key.
 */
export function fileIdentity(path: string): IdentityStore {
  return {
    read: () => {
      try {
        return Deno.readFileSync(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw new P2pKeyError(`Cannot read the libp2p key "${path}": ${(error as Error).message}`);
      }
    },
    write: (key) => {
      const temporary = `${path}.tmp`;
      try {
        Deno.writeFileSync(temporary, key, { mode: 0o600 });
        Deno.renameSync(temporary, path);
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound
          ? `folder "${dirname(resolve(path))}" does not exist (create it first; the relay ` +
            "does not create folders)"
          : (error as Error).message;
        throw new P2pKeyError(`Cannot write the libp2p key "${path}" (beside --db): ${reason}`);
      }
    },
  };
}
