import assert from "node:assert/strict";
import {
  budgetScale,
  cgroupMemoryLimit,
  FULL_BUDGET_BYTES,
  resolveMemoryLimit,
} from "./memory_limit.ts";

const MiB = 1024 * 1024;

/** A reader over a fake file system: `files` by path. */
function files(entries: Record<string, string>) {
  return (path: string) => entries[path];
}

Deno.test("the budgets are full from 512 MiB, shrink in proportion below it, and stop at an eighth", () => {
  assert.equal(budgetScale(FULL_BUDGET_BYTES), 1);
  assert.equal(budgetScale(24 * 1024 * MiB), 1);
  assert.equal(budgetScale(256 * MiB), 0.5);
  assert.equal(budgetScale(64 * MiB), 1 / 8);
  assert.equal(budgetScale(16 * MiB), 1 / 8);
});

Deno.test("cgroup v2: the limit of the process's group, or a smaller one above it", () => {
  const read = files({
    "/proc/self/cgroup": "0::/system.slice/vaultmesh-relay.service\n",
    "/sys/fs/cgroup/system.slice/vaultmesh-relay.service/memory.max": "67108864\n",
    "/sys/fs/cgroup/system.slice/memory.max": "max\n",
  });
  assert.equal(cgroupMemoryLimit(read), 64 * MiB);
  const parentSmaller = files({
    "/proc/self/cgroup": "0::/a/b\n",
    "/sys/fs/cgroup/a/b/memory.max": "max\n",
    "/sys/fs/cgroup/a/memory.max": "100663296\n",
  });
  assert.equal(cgroupMemoryLimit(parentSmaller), 96 * MiB);
});

Deno.test("cgroup v1: the memory controller's limit; its 'unlimited' (2^63 rounded) is none", () => {
  const read = files({
    "/proc/self/cgroup": "9:cpu,cpuacct:/x\n4:memory:/vaultmesh-mixed-1\n1:name=systemd:/\n",
    "/sys/fs/cgroup/memory/vaultmesh-mixed-1/memory.limit_in_bytes": "67108864\n",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
  });
  assert.equal(cgroupMemoryLimit(read), 64 * MiB);
  const unlimited = files({
    "/proc/self/cgroup": "4:memory:/\n",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
  });
  assert.equal(cgroupMemoryLimit(unlimited), undefined);
});

Deno.test("no cgroup file to read (no --allow-all, not Linux) is no cgroup limit", () => {
  assert.equal(cgroupMemoryLimit(files({})), undefined);
  assert.equal(cgroupMemoryLimit(files({ "/proc/self/cgroup": "0::/\n" })), undefined);
  assert.equal(
    cgroupMemoryLimit(files({
      "/proc/self/cgroup": "0::/\n",
      "/sys/fs/cgroup/memory.max": "garbage\n",
    })),
    undefined,
  );
});

Deno.test("the limit is the flag's, else the cgroup's when below the machine's memory, else the machine's", () => {
  const machineBytes = () => 8 * 1024 * MiB;
  assert.deepEqual(resolveMemoryLimit(64 * MiB, { readCgroup: () => 32 * MiB, machineBytes }), {
    bytes: 64 * MiB,
    source: "flag",
  });
  assert.deepEqual(resolveMemoryLimit(null, { readCgroup: () => 128 * MiB, machineBytes }), {
    bytes: 128 * MiB,
    source: "cgroup",
  });
  assert.deepEqual(resolveMemoryLimit(null, { readCgroup: () => undefined, machineBytes }), {
    bytes: 8 * 1024 * MiB,
    source: "machine",
  });
  assert.deepEqual(
    resolveMemoryLimit(null, { readCgroup: () => 64 * 1024 * MiB, machineBytes }),
    { bytes: 8 * 1024 * MiB, source: "machine" },
    "a cgroup larger than the machine",
  );
});
