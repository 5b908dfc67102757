/**
 * Lays out one platform's release archive: a top folder named like the archive holding the
 * compiled binary (mode 0755), README.md, LICENSE and the platform's service files.
 *
 * @module
 */
import { join } from "node:path";
import { type ArchiveEntry, tarGz, zip } from "./archive.ts";
import { archiveFileName, archiveStem, type PackagedFile, type Platform } from "./platforms.ts";

/** What goes into one archive. */
export interface LayoutOptions {
  readonly version: string;
  readonly platform: Platform;
  /** Path of the compiled relay for this platform. */
  readonly binary: string;
  /** Repository root that `platform.files` are relative to. */
  readonly repoRoot: string;
  /** Folder the archive is written to. */
  readonly outDir: string;
  /** More files by absolute path, such as `shawl.exe` on Windows. */
  readonly extraFiles?: readonly PackagedFile[];
  /** Modification time of every member, seconds since the epoch. */
  readonly mtime: number;
}

/** The archive members, top folder first, in a stable order. */
export async function archiveEntries(options: LayoutOptions): Promise<ArchiveEntry[]> {
  const top = archiveStem(options.version, options.platform);
  const files: { to: string; from: string; mode: number }[] = [
    { to: options.platform.binary, from: options.binary, mode: 0o755 },
    ...options.platform.files.map((file) => ({
      to: file.to,
      from: join(options.repoRoot, file.from),
      mode: 0o644,
    })),
    ...(options.extraFiles ?? []).map((file) => ({
      to: file.to,
      from: file.from,
      mode: file.to.endsWith(".exe") ? 0o755 : 0o644,
    })),
  ];
  const folders = new Set<string>();
  const entries: ArchiveEntry[] = [{ path: `${top}/`, mode: 0o755 }];
  for (const file of files) {
    const folder = file.to.includes("/") ? file.to.slice(0, file.to.lastIndexOf("/")) : "";
    if (folder && !folders.has(folder)) {
      folders.add(folder);
      entries.push({ path: `${top}/${folder}/`, mode: 0o755 });
    }
    entries.push({
      path: `${top}/${file.to}`,
      data: await Deno.readFile(file.from),
      mode: file.mode,
    });
  }
  return entries;
}

/**
 * Writes the platform's archive into `outDir` and returns its path.
 *
 * @example
 * ```ts
 * await layOutArchive({ version: "0.1.0", platform, binary: "build/vaultmesh-relay",
 *   repoRoot: ".", outDir: "dist", mtime: 0 });
 * // dist/vaultmesh-relay-v0.1.0-linux-x64.tar.gz
 * ```
 */
export async function layOutArchive(options: LayoutOptions): Promise<string> {
  const entries = await archiveEntries(options);
  const bytes = options.platform.archive === "zip"
    ? zip(entries, options.mtime)
    : await tarGz(entries, options.mtime);
  const path = join(options.outDir, archiveFileName(options.version, options.platform));
  await Deno.writeFile(path, bytes);
  return path;
}
