import assert from "node:assert/strict";

const linux = Deno.build.os === "linux";

/**
 * Runs `body` in a Deno process of its own, with `NativeHeap` imported, and returns what it
 * printed. The process's memory figures are its own: `deno test --parallel` runs other test
 * modules on threads of this process, whose allocations and frees would move them.
 */
async function probe(body: string, permissions: string[]): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-native-heap-" });
  try {
    const script = `${dir}/probe.ts`;
    Deno.writeTextFileSync(
      script,
      `import { NativeHeap } from ${JSON.stringify(import.meta.resolve("./native_heap.ts"))};\n` +
        body,
    );
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", ...permissions, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    return new TextDecoder().decode(result.stdout).trim();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name: "glibc's heap: tuned, trimmed and the process's anonymous memory read through libc" +
    (linux ? "" : " (skipped: not Linux)"),
  ignore: !linux,
  async fn() {
    const printed = await probe(
      `const heap = NativeHeap.open();
      if (!heap) throw new Error("glibc not found");
      heap.tuneForSmallMemory();
      const before = heap.anonymousBytes();
      // 64 MiB touched: the figure rises while it is held.
      const held = new Uint8Array(64 * 1024 * 1024).fill(1);
      const holding = heap.anonymousBytes();
      // What a trim gives back depends on the heap's state; here it only has to run.
      heap.trim();
      heap.close();
      console.log(JSON.stringify({ before, holding, last: held[held.length - 1] }));\n`,
      ["--allow-read", "--allow-ffi"],
    );
    const { before, holding, last } = JSON.parse(printed);
    assert.ok(before > 1024 * 1024, `anonymous bytes: ${before}`);
    assert.ok(holding > before + 32 * 1024 * 1024, `${before} -> ${holding}`);
    assert.equal(last, 1);
  },
});

Deno.test({
  name: "without --allow-ffi there is no heap to tune, and no error" +
    (linux ? "" : " (skipped: not Linux)"),
  ignore: !linux,
  async fn() {
    assert.equal(
      await probe("console.log(NativeHeap.open() === undefined);\n", ["--allow-read"]),
      "true",
    );
  },
});
