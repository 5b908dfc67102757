/**
 * A real small file system for storage-fault tests: a tmpfs the test mounts, fills, remounts
 * read-only and unmounts. Mounting needs privileges; tests that use it are ignored, with the
 * reason printed once, where `mount` is not permitted.
 *
 * @module
 */

async function run(command: string, args: readonly string[]): Promise<void> {
  const output = await new Deno.Command(command, {
    args: [...args],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!output.success) {
    const detail = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${detail || `status ${output.code}`}`);
  }
}

/** A mounted tmpfs; dispose unmounts it and removes its mount point. */
export interface Tmpfs extends AsyncDisposable {
  readonly path: string;
  /** Remounts it read-only (`ro`) or writable again. */
  remount(mode: "ro" | "rw"): Promise<void>;
  /** Writes zeros into `filler` until the file system is full; returns the bytes written. */
  fill(): number;
  /** Deletes the filler, leaving room again. */
  unfill(): void;
}

/**
 * Sets or clears the immutable attribute of `files` (`chattr +i` / `-i`): writes fail even
 * through file descriptors opened before, as on a file system gone read-only under a process.
 */
export function immutable(files: readonly string[], on: boolean): Promise<void> {
  return run("chattr", [on ? "+i" : "-i", ...files]);
}

/** Mounts a tmpfs of `sizeKiB` on a new temporary folder. */
export async function mountTmpfs(sizeKiB: number): Promise<Tmpfs> {
  const path = Deno.makeTempDirSync({ prefix: "vaultmesh-relay-tmpfs-" });
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0755`, "tmpfs", path]);
  } catch (error) {
    Deno.removeSync(path);
    throw error;
  }
  const filler = `${path}/filler`;
  return {
    path,
    remount: (mode) => run("mount", ["-o", `remount,${mode}`, path]),
    fill() {
      using file = Deno.openSync(filler, { write: true, create: true, append: true });
      const chunk = new Uint8Array(16 * 1024);
      let written = 0;
      for (;;) {
        try {
          written += file.writeSync(chunk);
        } catch (error) {
          if (/No space left|os error 28/.test((error as Error).message)) return written;
          throw error;
        }
      }
    },
    unfill: () => Deno.removeSync(filler),
    async [Symbol.asyncDispose]() {
      await run("umount", [path]);
      Deno.removeSync(path);
    },
  };
}

/** Why tmpfs tests cannot run here, or `undefined` when `mount` is permitted. */
export const TMPFS_UNAVAILABLE: string | undefined = await (async () => {
  if (Deno.build.os !== "linux") return "tmpfs mounts are a Linux test";
  try {
    await using _probe = await mountTmpfs(64);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
})();

if (TMPFS_UNAVAILABLE) {
  console.warn(`Skipping tests on a real full or read-only file system: ${TMPFS_UNAVAILABLE}`);
}
