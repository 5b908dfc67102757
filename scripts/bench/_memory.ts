/**
 * Memory of a process and the cgroup v1 memory controller to run it in: resident and anonymous
 * memory from `/proc/<pid>/status`, and a memory cgroup with a hard limit (where
 * `/sys/fs/cgroup/memory` is writable, as root on a cgroup v1 host) that reports its peak usage,
 * how often it hit the limit and whether the kernel's OOM killer ran inside it.
 *
 * @module
 */

const MEMORY_ROOT = "/sys/fs/cgroup/memory";

/** Resident (`VmRSS`) and anonymous (`RssAnon`) bytes of a process; NaN where /proc is missing. */
export interface ProcessMemory {
  readonly rssBytes: number;
  readonly anonBytes: number;
}

/** Reads `VmRSS` and `RssAnon` of `pid` (Linux). */
export function processMemory(pid: number): ProcessMemory {
  let status = "";
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    // Gone, or not Linux.
  }
  const kib = (field: string) => {
    const value = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
    return value === undefined ? NaN : Number(value) * 1024;
  };
  return { rssBytes: kib("VmRSS"), anonBytes: kib("RssAnon") };
}

/** What a memory cgroup saw so far. */
export interface CgroupMemoryStats {
  /** `memory.limit_in_bytes`. */
  readonly limitBytes: number;
  /** `memory.max_usage_in_bytes`: peak charge, page cache included. */
  readonly maxUsageBytes: number;
  /** `memory.failcnt`: times a charge hit the limit (the kernel then reclaimed page cache). */
  readonly failcnt: number;
  /** `under_oom` of `memory.oom_control`: the group is at its limit with nothing to reclaim. */
  readonly underOom: boolean;
  /** `oom_kill` of `memory.oom_control`: processes the OOM killer ended in the group. */
  readonly oomKills: number;
}

/** A cgroup v1 memory group with a hard limit; removed on dispose. */
export interface MemoryCgroup extends AsyncDisposable {
  readonly path: string;
  /**
   * `command` and `args` as a command that first moves itself into the group and then `exec`s
   * the real program, so every byte it ever allocates is charged to the group.
   */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  stats(): CgroupMemoryStats;
}

/** Why memory cgroups cannot be used here, or undefined when they can. */
export function memoryCgroupUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return `memory cgroups need Linux, not ${Deno.build.os}`;
  try {
    Deno.statSync(`${MEMORY_ROOT}/memory.limit_in_bytes`);
  } catch {
    return `no cgroup v1 memory controller at ${MEMORY_ROOT}`;
  }
  const probe = `${MEMORY_ROOT}/vaultmesh-probe-${Deno.pid}`;
  try {
    Deno.mkdirSync(probe);
    Deno.removeSync(probe);
  } catch (error) {
    return `cannot create a memory cgroup in ${MEMORY_ROOT}: ${(error as Error).message}`;
  }
  return undefined;
}

function readNumber(path: string): number {
  return Number(Deno.readTextFileSync(path).trim());
}

/**
 * Removes groups named `<prefix>-<pid>-…` whose process is gone and which hold no task: left
 * behind when a run was killed before it could remove its own.
 */
function removeStale(prefix: string): void {
  for (const entry of Deno.readDirSync(MEMORY_ROOT)) {
    const pid = new RegExp(`^${prefix}-(\\d+)-`).exec(entry.name)?.[1];
    if (!entry.isDirectory || pid === undefined) continue;
    try {
      Deno.statSync(`/proc/${pid}`);
      continue; // Its creator still runs.
    } catch {
      // Gone.
    }
    try {
      if (Deno.readTextFileSync(`${MEMORY_ROOT}/${entry.name}/cgroup.procs`).trim() === "") {
        Deno.removeSync(`${MEMORY_ROOT}/${entry.name}`);
      }
    } catch {
      // Someone else's, or just removed.
    }
  }
}

let created = 0;

/**
 * Creates a memory cgroup named `<prefix>-<pid>-<n>` limited to `limitBytes` (swap included
 * where `memory.memsw.limit_in_bytes` exists), after removing stale groups of the same prefix.
 *
 * @throws {Error} when the group cannot be created; check {@linkcode memoryCgroupUnavailable}.
 */
export function createMemoryCgroup(prefix: string, limitBytes: number): MemoryCgroup {
  removeStale(prefix);
  const name = `${prefix}-${Deno.pid}-${created++}`;
  const path = `${MEMORY_ROOT}/${name}`;
  Deno.mkdirSync(path);
  try {
    Deno.writeTextFileSync(`${path}/memory.limit_in_bytes`, String(limitBytes));
    try {
      Deno.writeTextFileSync(`${path}/memory.memsw.limit_in_bytes`, String(limitBytes));
    } catch {
      // No swap accounting on this kernel.
    }
  } catch (error) {
    Deno.removeSync(path);
    throw error;
  }
  return {
    path,
    wrap: (command, args) => ({
      command: "/bin/sh",
      args: ["-c", 'echo $$ > "$0" && exec "$@"', `${path}/cgroup.procs`, command, ...args],
    }),
    stats: () => {
      const oom = Deno.readTextFileSync(`${path}/memory.oom_control`);
      const field = (key: string) => Number(new RegExp(`${key} (\\d+)`).exec(oom)?.[1] ?? NaN);
      return {
        limitBytes: readNumber(`${path}/memory.limit_in_bytes`),
        maxUsageBytes: readNumber(`${path}/memory.max_usage_in_bytes`),
        failcnt: readNumber(`${path}/memory.failcnt`),
        underOom: field("under_oom") === 1,
        oomKills: field("oom_kill"),
      };
    },
    [Symbol.asyncDispose]: async () => {
      // The group can only go once its processes are gone; a killed child may take a moment.
      for (let attempt = 0;; attempt++) {
        try {
          Deno.removeSync(path);
          return;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}
