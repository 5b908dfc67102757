/**
 * The relay in a memory cgroup (cgroup v1, where this process may create one: root on a cgroup v1
 * host) through a short mixed load (`scripts/bench/mixed.ts`: signed HTTP senders on 64 vaults
 * with readers, socket pairs at 1 KiB and 64 KiB, 300 idle sockets; default flags, per-address
 * limits lifted). It must come out alive: no OOM kill in the group, and no answer other than the
 * documented refusals (507 `buffer_full`/`storage_full`, 429, 503 `busy`). Elsewhere the test is
 * skipped and its name says why. Nothing is timed.
 *
 * The group is the 64 MiB the product page promises, and the relay is what the release binaries
 * run: the `deno bundle` of `main.ts`, told the limit with `--memory-limit` as the systemd unit's
 * `VAULTMESH_RELAY_MEMORY_LIMIT` tells it (it shrinks its in-flight budgets and trims the C heap;
 * docs/BENCHMARKS.md, "Fitting 64 MiB"). Run from source, the relay holds about 10 MiB more
 * idle and does not fit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mixed } from "../scripts/bench/mixed.ts";
import { memoryCgroupUnavailable } from "../scripts/bench/_memory.ts";

/** The memory cgroup's limit. */
const LIMIT_MIB = 64;

const unavailable = memoryCgroupUnavailable();
const name = `the relay survives a short mixed load in a ${LIMIT_MIB} MiB memory cgroup with ` +
  "only documented refusals";

Deno.test({
  name: unavailable === undefined ? name : `${name} (skipped: ${unavailable})`,
  ignore: unavailable !== undefined,
  async fn() {
    const figures = await mixed({ seconds: 3, json: true, cgroupMib: LIMIT_MIB });
    const seen = JSON.stringify({ cgroup: figures.cgroup, counts: figures.counts });
    assert.equal(figures.cgroupMib, LIMIT_MIB, `no cgroup: ${figures.cgroupSkipped}`);
    assert.equal(figures.entry, "bundle", `not the bundle: ${figures.bundleSkipped}`);
    assert.equal(figures.cgroup?.oomKills, 0, `the kernel OOM-killed the relay: ${seen}`);
    assert.ok(figures.survived, `the relay exited (${figures.exitSignal ?? figures.exitCode})`);
    assert.equal(figures.failures, 0, `not documented refusals: ${figures.examples.join("; ")}`);
    assert.ok(
      figures.httpSends > 0 && figures.socketEnvelopes1k > 0,
      `no load went through: ${seen}`,
    );
    assert.deepEqual(figures.relayErrors, []);
  },
});
