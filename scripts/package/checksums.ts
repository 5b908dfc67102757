/**
 * `SHA256SUMS` in the format `sha256sum -c` reads, and the facts the download page shows.
 *
 * @module
 */
import { basename, join } from "node:path";

/** A release file as the download page and `SHA256SUMS` describe it. */
export interface ReleaseFile {
  readonly name: string;
  readonly size: number;
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
}

/** Lower-case hex SHA-256 of `data`. */
export async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Name, size and SHA-256 of each file, read from disk. */
export async function describeFiles(paths: readonly string[]): Promise<ReleaseFile[]> {
  const files: ReleaseFile[] = [];
  for (const path of paths) {
    const data = await Deno.readFile(path);
    files.push({ name: basename(path), size: data.length, sha256: await sha256Hex(data) });
  }
  return files;
}

/** `SHA256SUMS` text: one `<hex>  <name>` line per file (text mode, as `sha256sum` writes). */
export function checksumsText(files: readonly ReleaseFile[]): string {
  return files.map((file) => `${file.sha256}  ${file.name}\n`).join("");
}

/** Writes `dir/SHA256SUMS` for the files and returns its path. */
export async function writeChecksums(dir: string, files: readonly ReleaseFile[]): Promise<string> {
  const path = join(dir, "SHA256SUMS");
  await Deno.writeTextFile(path, checksumsText(files));
  return path;
}
