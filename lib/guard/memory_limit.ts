/**
 * The memory the relay may use, and how much of its in-flight budgets that allows.
 *
 * The limit is `--memory-limit`, else the memory cgroup's (systemd's `MemoryMax=`, a container's
 * limit), else the machine's memory. Reading the cgroup needs `--allow-all` in Deno 2.9 (like the
 * open-file limit in `fd_budget.ts`), so a service that sets `MemoryMax=` says the same with
 * `VAULTMESH_RELAY_MEMORY_LIMIT`.
 *
 * The in-flight budgets in `lib/limits.ts` (request bytes, backlog pages, socket queues, commit
 * batches, copy buffers) are sized for {@linkcode FULL_BUDGET_BYTES} of memory and shrink in
 * proportion below it, to an eighth at 64 MiB: the relay's own footprint (about 30 MiB idle) does
 * not shrink, so what is left for clients' bytes in flight, each held several times over (read
 * buffers, copies, garbage not yet collected), is small (docs/BENCHMARKS.md, "Fitting 64 MiB").
 *
 * @module
 */

const MiB = 1024 * 1024;

/** Memory at and above which the in-flight budgets are at their full size. */
export const FULL_BUDGET_BYTES = 512 * MiB;

/** The smallest share of the full budgets, reached at 64 MiB. */
export const MIN_BUDGET_SCALE = 1 / 8;

/** How much memory the relay may use, and where that figure came from. */
export interface MemoryLimit {
  readonly bytes: number;
  readonly source: "flag" | "cgroup" | "machine";
}

/** A limit at which every budget has its full size (for tools and tests that need one). */
export const FULL_MEMORY: MemoryLimit = { bytes: FULL_BUDGET_BYTES, source: "flag" };

/** What the budgets are multiplied by for a memory limit of `bytes`: from 1/8 to 1. */
export function budgetScale(bytes: number): number {
  return Math.min(1, Math.max(MIN_BUDGET_SCALE, bytes / FULL_BUDGET_BYTES));
}

/** A cgroup limit of this or more means none (cgroup v1 writes a page-rounded 2^63 - 1). */
const UNLIMITED_BYTES = 2 ** 60;

/** Reads a text file, or `undefined` when it is missing or not readable. */
type ReadText = (path: string) => string | undefined;

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The limit in a `memory.max` or `memory.limit_in_bytes` file, or undefined if none. */
function limitIn(text: string | undefined): number | undefined {
  const value = text?.trim();
  if (!value || value === "max" || !/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes >= UNLIMITED_BYTES ? undefined : bytes;
}

/** `path` and each folder above it, up to `/`. */
function selfAndAncestors(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  return parts.map((_, i) => `/${parts.slice(0, parts.length - i).join("/")}`).concat("/");
}

/**
 * The memory limit of this process's cgroup (v2, or v1's memory controller), the smallest along
 * its path to the root; `undefined` when there is none or it cannot be read.
 */
export function cgroupMemoryLimit(read: ReadText = readText): number | undefined {
  const table = read("/proc/self/cgroup");
  if (table === undefined) return undefined;
  const limits: number[] = [];
  for (const line of table.split("\n")) {
    const [, controllers, path] = line.match(/^\d+:([^:]*):(\/.*)$/) ?? [];
    if (path === undefined) continue;
    const file = controllers === ""
      ? (dir: string) => `/sys/fs/cgroup${dir === "/" ? "" : dir}/memory.max`
      : controllers!.split(",").includes("memory")
      ? (dir: string) => `/sys/fs/cgroup/memory${dir === "/" ? "" : dir}/memory.limit_in_bytes`
      : undefined;
    if (!file) continue;
    for (const dir of selfAndAncestors(path)) {
      const bytes = limitIn(read(file(dir)));
      if (bytes !== undefined) limits.push(bytes);
    }
  }
  return limits.length ? Math.min(...limits) : undefined;
}

/** The machine's memory in bytes. */
function machineMemory(): number {
  return Deno.systemMemoryInfo().total;
}

/**
 * The memory limit: `configured` (`--memory-limit`), else the cgroup's (as `readCgroup` finds
 * it), else the machine's memory.
 */
export function resolveMemoryLimit(
  configured: number | null,
  options: { readCgroup?: () => number | undefined; machineBytes?: () => number } = {},
): MemoryLimit {
  if (configured !== null) return { bytes: configured, source: "flag" };
  const machine = (options.machineBytes ?? machineMemory)();
  const cgroup = (options.readCgroup ?? cgroupMemoryLimit)();
  return cgroup !== undefined && cgroup < machine
    ? { bytes: cgroup, source: "cgroup" }
    : { bytes: machine, source: "machine" };
}
