/**
 * The runtime's C heap (glibc's malloc) under a small memory limit. Every socket frame, request
 * body and backlog page passes through buffers that the runtime allocates with malloc, and glibc
 * keeps what was freed for reuse: after a burst the heap holds tens of MiB of free holes that the
 * kernel still counts against the memory cgroup. Under a small limit the relay therefore fixes
 * glibc's mmap threshold at 256 KiB (by default it rises to the largest block freed, so 1 MiB
 * bodies end up in the heap, and their holes with them), keeps threads that start later on the
 * main arena, trims the top of the heap beyond 128 KiB, and returns free pages to the system
 * while its memory is high (`malloc_trim`, driven by `memory_valve.ts`).
 *
 * It also reads the process's anonymous resident memory, the figure a memory cgroup's OOM killer
 * acts on, from `/proc/self/statm` through the C library: Deno 2.9 asks for `--allow-all` before
 * it reads any file under `/proc/self`, and the relay holds `--allow-ffi` (the start task and the
 * release binaries have it) for the allocator anyway.
 *
 * Linux with glibc only: elsewhere (macOS, Windows, musl) {@linkcode NativeHeap.open} finds
 * nothing and the scaled budgets alone bound memory. docs/BENCHMARKS.md, "Fitting 64 MiB", has
 * what each part saves.
 *
 * @module
 */

// glibc's mallopt parameters (malloc.h) and sysconf's page size (unistd.h).
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;
const SC_PAGESIZE = 30;

const SYMBOLS = {
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  sysconf: { parameters: ["i32"], result: "i64" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

const STATM_PATH = new TextEncoder().encode("/proc/self/statm\0");

/** glibc's allocator and the process's memory figures, reached through FFI. */
export class NativeHeap {
  readonly #pageBytes: number;
  readonly #statm = new Uint8Array(128);

  private constructor(private readonly libc: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#pageBytes = Number(libc.symbols.sysconf(SC_PAGESIZE));
  }

  /**
   * glibc's allocator, or `undefined` where there is none to tune: not Linux, no `--allow-ffi`,
   * or a C library other than glibc.
   */
  static open(): NativeHeap | undefined {
    if (Deno.build.os !== "linux") return undefined;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
    try {
      return new NativeHeap(Deno.dlopen("libc.so.6", SYMBOLS));
    } catch {
      return undefined;
    }
  }

  /** Sets the allocator up for a small memory limit (see the module's documentation). */
  tuneForSmallMemory(): void {
    this.libc.symbols.mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    this.libc.symbols.mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    this.libc.symbols.mallopt(M_ARENA_MAX, 1);
  }

  /** Returns the heap's free pages to the system now. */
  trim(): void {
    this.libc.symbols.malloc_trim(0n);
  }

  /**
   * The process's anonymous resident memory in bytes (resident minus file-backed and shared
   * pages), or `undefined` if `/proc/self/statm` cannot be read.
   */
  anonymousBytes(): number | undefined {
    const { open, read, close } = this.libc.symbols;
    const fd = open(STATM_PATH, 0);
    if (fd < 0) return undefined;
    const length = Number(read(fd, this.#statm, BigInt(this.#statm.length)));
    close(fd);
    if (length <= 0) return undefined;
    // size resident shared text lib data dt, in pages
    const [, resident, shared] = new TextDecoder().decode(this.#statm.subarray(0, length))
      .split(" ").map(Number);
    if (!Number.isFinite(resident) || !Number.isFinite(shared)) return undefined;
    return (resident! - shared!) * this.#pageBytes;
  }

  /** Unloads the library. */
  close(): void {
    this.libc.close();
  }
}
