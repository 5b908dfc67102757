/**
 * The macOS universal binary: drop a stale code signature from a thin Mach-O slice and merge the
 * slices with `lipo` (Apple's, or `llvm-lipo` from LLVM on Linux).
 *
 * `deno compile` signs an arm64 binary itself on any host, but signs an x86_64 binary only on
 * macOS; compiled elsewhere, the x86_64 slice keeps the runtime's original signature, which no
 * longer matches the file. {@linkcode removeCodeSignature} does what
 * `codesign --remove-signature` does, so the slice is unsigned instead of wrongly signed.
 *
 * @module
 */

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const HEADER_SIZE = 32;

/** Whether `bytes` is a thin 64-bit little-endian Mach-O file. */
export function isThinMachO64(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_SIZE &&
    new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === MH_MAGIC_64;
}

/** Whether the thin Mach-O file carries an `LC_CODE_SIGNATURE` load command. */
export function hasCodeSignature(bytes: Uint8Array): boolean {
  return findSignature(bytes) !== undefined;
}

interface Commands {
  readonly view: DataView;
  readonly ncmds: number;
  readonly sizeofcmds: number;
}

function commands(bytes: Uint8Array): Commands {
  if (!isThinMachO64(bytes)) throw new TypeError("Expected a thin 64-bit Mach-O file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { view, ncmds: view.getUint32(16, true), sizeofcmds: view.getUint32(20, true) };
}

function findSignature(bytes: Uint8Array): { offset: number; size: number } | undefined {
  const { view, ncmds } = commands(bytes);
  let offset = HEADER_SIZE;
  for (let i = 0; i < ncmds; i++) {
    const cmd = view.getUint32(offset, true);
    const size = view.getUint32(offset + 4, true);
    if (cmd === LC_CODE_SIGNATURE) return { offset, size };
    offset += size;
  }
  return undefined;
}

function findLinkedit(bytes: Uint8Array): number | undefined {
  const { view, ncmds } = commands(bytes);
  let offset = HEADER_SIZE;
  for (let i = 0; i < ncmds; i++) {
    const cmd = view.getUint32(offset, true);
    const name = new TextDecoder().decode(bytes.subarray(offset + 8, offset + 24)).replace(
      /\0+$/,
      "",
    );
    if (cmd === LC_SEGMENT_64 && name === "__LINKEDIT") return offset;
    offset += view.getUint32(offset + 4, true);
  }
  return undefined;
}

/**
 * A copy of the thin Mach-O file without its code signature: the `LC_CODE_SIGNATURE` command is
 * removed, the signature blob cut off the end and `__LINKEDIT` shrunk to match. A file without a
 * signature is returned unchanged.
 *
 * @throws {TypeError} when the file is not a thin 64-bit Mach-O or the signature is not the last
 * thing in the file (the layout `codesign` and `ld` produce).
 */
export function removeCodeSignature(input: Uint8Array): Uint8Array {
  const signature = findSignature(input);
  if (!signature) return input;
  const bytes = input.slice();
  const { view, ncmds, sizeofcmds } = commands(bytes);
  const dataoff = view.getUint32(signature.offset + 8, true);
  const datasize = view.getUint32(signature.offset + 12, true);
  const linkedit = findLinkedit(bytes);
  if (dataoff + datasize > bytes.length || linkedit === undefined) {
    throw new TypeError("Cannot remove the code signature: unexpected Mach-O layout");
  }
  const linkeditOff = Number(view.getBigUint64(linkedit + 40, true));
  const linkeditSize = Number(view.getBigUint64(linkedit + 48, true));
  if (linkeditOff + linkeditSize !== dataoff + datasize || bytes.length !== dataoff + datasize) {
    throw new TypeError("Cannot remove the code signature: it is not at the end of the file");
  }
  const commandsEnd = HEADER_SIZE + sizeofcmds;
  bytes.copyWithin(signature.offset, signature.offset + signature.size, commandsEnd);
  bytes.fill(0, commandsEnd - signature.size, commandsEnd);
  view.setUint32(16, ncmds - 1, true);
  view.setUint32(20, sizeofcmds - signature.size, true);
  // The __LINKEDIT command may have moved down if it followed the signature command.
  const movedLinkedit = findLinkedit(bytes)!;
  view.setBigUint64(movedLinkedit + 48, BigInt(dataoff - linkeditOff), true);
  return bytes.slice(0, dataoff);
}

/**
 * The first executable named `name` or `name-NN` (Debian's versioned LLVM tools, newest first)
 * in the folders of `path` (a `PATH` value).
 */
export function findExecutable(name: string, path: string | undefined): string | undefined {
  const names = [name];
  for (let version = 30; version >= 11; version--) names.push(`${name}-${version}`);
  const dirs = (path ?? "").split(":").filter(Boolean);
  for (const candidate of names) {
    for (const dir of dirs) {
      try {
        const info = Deno.statSync(`${dir}/${candidate}`);
        if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${candidate}`;
      } catch {
        // Not in this folder.
      }
    }
  }
  return undefined;
}

/** The `lipo` to use: `LIPO` if set, else `lipo`, `llvm-lipo` or `llvm-lipo-NN` on `PATH`. */
export function findLipo(
  env: { readonly LIPO?: string | undefined; readonly PATH?: string | undefined },
): string | undefined {
  return env.LIPO || findExecutable("lipo", env.PATH) || findExecutable("llvm-lipo", env.PATH);
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const error = new TextDecoder().decode(output.stderr).trim().split("\n")[0] ?? "";
    throw new Error(`${command} ${args[0]} failed with exit code ${output.code}: ${error}`);
  }
  return text;
}

/** The architectures a (fat or thin) Mach-O file holds, as `lipo -archs` names them. */
export async function machOArchs(lipo: string, path: string): Promise<string[]> {
  return (await run(lipo, ["-archs", path])).trim().split(/\s+/).filter(Boolean).sort();
}

/**
 * Merges thin Mach-O files into one universal file with `lipo -create` and checks it holds every
 * input's architecture. Returns the architectures.
 */
export async function lipoCreate(
  lipo: string,
  options: { readonly inputs: readonly string[]; readonly output: string },
): Promise<string[]> {
  const expected: string[] = [];
  for (const input of options.inputs) expected.push(...await machOArchs(lipo, input));
  await run(lipo, ["-create", ...options.inputs, "-output", options.output]);
  const archs = await machOArchs(lipo, options.output);
  if (archs.join(" ") !== expected.sort().join(" ")) {
    throw new Error(
      `${options.output} holds ${archs.join(", ") || "no architecture"}, expected ${
        expected.join(", ")
      }`,
    );
  }
  return archs;
}
