import assert from "node:assert/strict";
import { NativeHeap } from "./native_heap.ts";

const linux = Deno.build.os === "linux";
const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
const skipped = !linux ? "not Linux" : !ffi ? "no --allow-ffi" : undefined;

Deno.test({
  name: "glibc's heap: tuned, trimmed and the process's anonymous memory read through libc" +
    (skipped ? ` (skipped: ${skipped})` : ""),
  ignore: skipped !== undefined,
  fn() {
    const heap = NativeHeap.open();
    assert.ok(heap, "glibc found");
    try {
      heap.tuneForSmallMemory();
      const before = heap.anonymousBytes();
      assert.ok(before !== undefined && before > 1024 * 1024, `anonymous bytes: ${before}`);
      // 64 MiB touched: the figure rises while it is held.
      const held = new Uint8Array(64 * 1024 * 1024).fill(1);
      const holding = heap.anonymousBytes()!;
      assert.ok(holding > before + 32 * 1024 * 1024, `${before} -> ${holding}`);
      assert.equal(held[held.length - 1], 1);
      // What a trim gives back depends on the heap's state; here it only has to run.
      heap.trim();
    } finally {
      heap.close();
    }
  },
});

Deno.test({
  name: "without --allow-ffi there is no heap to tune, and no error" +
    (linux ? "" : " (skipped: not Linux)"),
  ignore: !linux,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-native-heap-" });
    try {
      const script = `${dir}/probe.ts`;
      Deno.writeTextFileSync(
        script,
        `import { NativeHeap } from ${JSON.stringify(import.meta.resolve("./native_heap.ts"))};\n` +
          "console.log(NativeHeap.open() === undefined);\n",
      );
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", "--allow-read", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(result.stdout).trim(), "true");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
