import assert from "node:assert/strict";
import { join } from "node:path";
import { hasCodeSignature, lipoCreate, machOArchs, removeCodeSignature } from "./macho.ts";
import { run, tool } from "../../tests/_package_helpers.ts";
import { tempDir } from "../../tests/_helpers.ts";

const llvmMc = tool("llvm-mc");
const ld64 = tool("ld64.lld");
const lipo = tool("llvm-lipo");
const objdump = tool("llvm-objdump");

const ASSEMBLY = ".text\n.globl _main\n_main:\n  ret\n";

/** Assembles a tiny Mach-O object for `triple` with llvm-mc, optionally linked and ad-hoc signed. */
async function machO(dir: string, arch: "x86_64" | "arm64", link: boolean): Promise<string> {
  const source = join(dir, "main.s");
  Deno.writeTextFileSync(source, ASSEMBLY);
  const object = join(dir, `${arch}.o`);
  const assembled = await run(llvmMc!, {
    args: [`-triple=${arch}-apple-macos11`, "-filetype=obj", source, "-o", object],
  });
  assert.equal(assembled.code, 0, assembled.stderr);
  if (!link) return object;
  const executable = join(dir, `${arch}-signed`);
  const linked = await run(ld64!, {
    args: [
      "-arch",
      arch,
      "-platform_version",
      "macos",
      "11.0",
      "11.0",
      "-adhoc_codesign",
      "-e",
      "_main",
      "-o",
      executable,
      object,
    ],
  });
  assert.equal(linked.code, 0, linked.stderr);
  return executable;
}

async function loadCommands(path: string): Promise<string> {
  const result = await run(objdump!, { args: ["--macho", "--private-headers", path] });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

const missingForSignature = [
  ["llvm-mc", llvmMc],
  ["ld64.lld", ld64],
  ["llvm-objdump", objdump],
  ["llvm-lipo", lipo],
].filter(([, path]) => !path).map(([name]) => name);

Deno.test({
  name: missingForSignature.length === 0
    ? "removing the code signature of a real signed x86_64 Mach-O leaves a valid unsigned executable"
    : `removing the code signature of a real signed x86_64 Mach-O (skipped: ${
      missingForSignature.join(", ")
    } not installed)`,
  ignore: missingForSignature.length > 0,
  fn: async () => {
    using dir = tempDir();
    const signed = await machO(dir.path, "x86_64", true);
    const bytes = Deno.readFileSync(signed);
    assert.ok(hasCodeSignature(bytes));
    assert.match(await loadCommands(signed), /LC_CODE_SIGNATURE/);
    const unsigned = removeCodeSignature(bytes);
    assert.ok(!hasCodeSignature(unsigned));
    assert.ok(unsigned.length < bytes.length);
    const unsignedPath = join(dir.path, "x86_64-unsigned");
    Deno.writeFileSync(unsignedPath, unsigned);
    const headers = await loadCommands(unsignedPath);
    assert.doesNotMatch(headers, /LC_CODE_SIGNATURE/);
    const linkedit = /segname __LINKEDIT[\s\S]*?fileoff (\d+)\s+filesize (\d+)/.exec(headers);
    assert.ok(linkedit, headers);
    assert.equal(Number(linkedit[1]) + Number(linkedit[2]), unsigned.length);
    assert.deepEqual(await machOArchs(lipo!, unsignedPath), ["x86_64"]);
    assert.deepEqual(removeCodeSignature(unsigned), unsigned);
  },
});

Deno.test("removing a code signature refuses a file that is not a thin 64-bit Mach-O", () => {
  assert.throws(
    () => removeCodeSignature(new TextEncoder().encode("#!/bin/sh\n".padEnd(64, " "))),
    TypeError,
  );
});

const missingForLipo = [["llvm-mc", llvmMc], ["llvm-lipo", lipo]]
  .filter(([, path]) => !path).map(([name]) => name);

Deno.test({
  name: missingForLipo.length === 0
    ? "llvm-lipo merges real arm64 and x86_64 Mach-O files into one listing both architectures"
    : `llvm-lipo merges real arm64 and x86_64 Mach-O files (skipped: ${
      missingForLipo.join(", ")
    } not installed)`,
  ignore: missingForLipo.length > 0,
  fn: async () => {
    using dir = tempDir();
    const arm64 = await machO(dir.path, "arm64", false);
    const x86 = await machO(dir.path, "x86_64", false);
    const universal = join(dir.path, "universal");
    const archs = await lipoCreate(lipo!, { inputs: [arm64, x86], output: universal });
    assert.deepEqual(archs, ["arm64", "x86_64"]);
    const info = await run(lipo!, { args: ["-info", universal] });
    assert.match(info.stdout, /Architectures in the fat file: .* are: (x86_64 arm64|arm64 x86_64)/);
    const file = await run("file", { args: ["-b", universal] }).catch(() => undefined);
    if (file?.code === 0) assert.match(file.stdout, /universal binary with 2 architectures/i);
  },
});
