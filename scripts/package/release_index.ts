/**
 * The files that describe a release folder: `SHA256SUMS` and the download page `index.html`, for
 * the archives of one version found in the folder.
 *
 * @module
 */
import { join } from "node:path";
import { describeFiles, writeChecksums } from "./checksums.ts";
import { downloadPageHtml } from "./download_page.ts";
import { archiveFileName, PLATFORMS } from "./platforms.ts";

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Archives of this version already in `outDir`, in platform order. */
export function archivesIn(outDir: string, version: string): string[] {
  return PLATFORMS.map((platform) => join(outDir, archiveFileName(version, platform)))
    .filter(isFile);
}

/**
 * Writes `SHA256SUMS` and `index.html` for the archives in `outDir` and returns the archives.
 *
 * @throws {RangeError} when `outDir` holds no archive of `version`.
 */
export async function writeIndex(outDir: string, version: string): Promise<string[]> {
  const paths = archivesIn(outDir, version);
  const archives = await describeFiles(paths);
  if (archives.length === 0) {
    throw new RangeError(`No vaultmesh-relay-v${version} archives in ${JSON.stringify(outDir)}`);
  }
  await writeChecksums(outDir, archives);
  await Deno.writeTextFile(join(outDir, "index.html"), downloadPageHtml({ version, archives }));
  return paths;
}
