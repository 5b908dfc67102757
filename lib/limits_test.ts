import assert from "node:assert/strict";
import { defaultConfig } from "./config/mod.ts";
import { relayLimits } from "./limits.ts";
import { fdBudget } from "./guard/fd_budget.ts";
import { FULL_MEMORY, type MemoryLimit } from "./guard/memory_limit.ts";

const MiB = 1024 * 1024;
const fds = fdBudget(1024, { p2p: false });

function limitsFor(memory: MemoryLimit, maxEnvelope?: number) {
  const config = { ...defaultConfig(), ...(maxEnvelope ? { maxEnvelope } : {}) };
  return relayLimits(config, { maxDbBytes: 1, fds, memory });
}

/** The budgets that follow the memory limit. */
function scaledBudgets(memory: MemoryLimit) {
  const limits = limitsFor(memory);
  return {
    requestBytes: limits.memory.requestBytes,
    maxPageBytes: limits.http.maxPageBytes,
    pumpPageBytes: limits.socket.pumpPageBytes,
    vaultQueueBytes: limits.socket.vaultQueueBytes,
    commitBatchBytes: limits.modes.commitBatchBytes,
    pumpBufferBytes: limits.connections.pumpBufferBytes,
    cacheBytes: limits.storage.cacheBytes,
  };
}

Deno.test("from 512 MiB of memory the in-flight budgets have their full size and no valve runs", () => {
  const full = limitsFor(FULL_MEMORY);
  assert.equal(full.memory.budgetScale, 1);
  assert.equal(full.memory.checkEveryMs, 0);
  assert.deepEqual(
    scaledBudgets({ bytes: 24 * 1024 * MiB, source: "machine" }),
    scaledBudgets(FULL_MEMORY),
  );
  assert.equal(full.memory.requestBytes, 12 * MiB);
  assert.equal(full.memory.requestBytesPerAddress, 3 * MiB, "a quarter");
});

Deno.test("at 64 MiB every in-flight budget is an eighth, the valve runs, one envelope still fits", () => {
  const full = scaledBudgets(FULL_MEMORY);
  const small = limitsFor({ bytes: 64 * MiB, source: "cgroup" });
  const budgets = scaledBudgets({ bytes: 64 * MiB, source: "cgroup" });
  for (const [name, bytes] of Object.entries(budgets)) {
    assert.equal(bytes, Math.floor(full[name as keyof typeof full] / 8), name);
  }
  assert.equal(small.memory.checkEveryMs, 100);
  assert.ok(small.memory.trimAboveBytes < small.memory.resumeBelowBytes);
  assert.ok(small.memory.resumeBelowBytes < small.memory.refuseAboveBytes);
  assert.ok(small.memory.refuseAboveBytes < 64 * MiB);
  // 1.5 MiB in all; one address may hold a whole 1 MiB envelope and its frame, not a quarter.
  assert.equal(small.memory.requestBytesPerAddress, MiB + 64 * 1024);
});

Deno.test("a young-generation collection follows every 1 MiB of buffers, or 512 KiB under a small limit", () => {
  assert.equal(limitsFor(FULL_MEMORY).memory.scavengeEveryBytes, MiB);
  assert.equal(limitsFor({ bytes: 256 * MiB, source: "flag" }).memory.scavengeEveryBytes, MiB / 2);
  assert.equal(limitsFor({ bytes: 64 * MiB, source: "cgroup" }).memory.scavengeEveryBytes, MiB / 2);
});

Deno.test("connections are held to one per 64 KiB of memory, below what descriptors allow", () => {
  const manyFds = fdBudget(100_000, { p2p: false });
  const at = (bytes: number) =>
    relayLimits(defaultConfig(), { maxDbBytes: 1, fds: manyFds, memory: { bytes, source: "flag" } })
      .connections.httpFds;
  assert.equal(at(64 * MiB), 1024);
  assert.equal(at(1024 * MiB), 16_384);
  assert.equal(at(64 * 1024 * MiB), manyFds.http, "the descriptors are the bound then");
});

Deno.test("a budget never holds less than the largest envelope, whatever the memory", () => {
  const limits = limitsFor({ bytes: 64 * MiB, source: "flag" }, 4 * MiB);
  assert.equal(limits.memory.requestBytes, 4 * MiB + 64 * 1024);
  assert.equal(limits.memory.requestBytesPerAddress, limits.memory.requestBytes);
});
