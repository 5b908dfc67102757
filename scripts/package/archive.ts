/**
 * Archive writers in plain Deno (no `tar` or `zip` on the path needed, so the release job runs on
 * any runner): a ustar `.tar.gz` writer and a deflate `.zip` writer, both keeping Unix file modes.
 *
 * @module
 */
import { deflateRawSync } from "node:zlib";

/** One archive member: a folder (no `data`) or a file. Folder paths end with `/`. */
export interface ArchiveEntry {
  readonly path: string;
  readonly data?: Uint8Array;
  /** Unix permission bits, e.g. `0o755` for a binary. */
  readonly mode: number;
}

const encoder = new TextEncoder();

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) {
    throw new RangeError(`Cannot store ${JSON.stringify(value)} in a ${length}-byte tar field`);
  }
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function tarHeader(entry: ArchiveEntry, mtime: number): Uint8Array {
  const header = new Uint8Array(512);
  writeString(header, 0, 100, entry.path);
  writeOctal(header, 100, 8, entry.mode);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, entry.data?.length ?? 0);
  writeOctal(header, 136, 12, mtime);
  header.fill(0x20, 148, 156);
  writeString(header, 156, 1, entry.data ? "0" : "5");
  writeString(header, 257, 8, "ustar\u000000");
  writeString(header, 265, 32, "root");
  writeString(header, 297, 32, "root");
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  writeString(header, 148, 8, checksum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}

/** A ustar archive of `entries`, every member dated `mtime` (seconds since the epoch). */
export function tar(entries: readonly ArchiveEntry[], mtime: number): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry, mtime));
    if (entry.data) {
      parts.push(entry.data);
      const padding = (512 - entry.data.length % 512) % 512;
      parts.push(new Uint8Array(padding));
    }
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** A gzip-compressed ustar archive of `entries`. */
export async function tarGz(entries: readonly ArchiveEntry[], mtime: number): Promise<Uint8Array> {
  const stream = new Blob([tar(entries, mtime)]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** The CRC-32 (IEEE) of `data`, as zip stores it. */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function dosDateTime(mtime: number): { time: number; date: number } {
  const d = new Date(Math.max(mtime, 315532800) * 1000);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** A zip archive of `entries` (deflated), every member dated `mtime` (seconds since the epoch). */
export function zip(entries: readonly ArchiveEntry[], mtime: number): Uint8Array<ArrayBuffer> {
  const { time, date } = dosDateTime(mtime);
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.path);
    const data = entry.data ?? new Uint8Array();
    const compressed = entry.data ? new Uint8Array(deflateRawSync(data)) : data;
    const crc = crc32(data);
    if (offset + compressed.length > 0xffffffff) {
      throw new RangeError(`Cannot store ${JSON.stringify(entry.path)}: zip64 is not supported`);
    }
    const method = entry.data ? 8 : 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true);
    local.setUint16(8, method, true);
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, compressed.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, name.length, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, (3 << 8) | 20, true);
    central.setUint16(6, 20, true);
    central.setUint16(8, 0x0800, true);
    central.setUint16(10, method, true);
    central.setUint16(12, time, true);
    central.setUint16(14, date, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, compressed.length, true);
    central.setUint32(24, data.length, true);
    central.setUint16(28, name.length, true);
    const unixMode = (entry.data ? 0o100000 : 0o040000) | entry.mode;
    central.setUint32(38, ((unixMode << 16) | (entry.data ? 0 : 0x10)) >>> 0, true);
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), name, compressed);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + compressed.length;
  }
  const directory = concat(centrals);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, directory.length, true);
  end.setUint32(16, offset, true);
  return concat([...locals, directory, new Uint8Array(end.buffer)]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
