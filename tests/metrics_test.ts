import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { bytes, PROTOCOL_3, startRelay, sweepingEvery, tempDir, vaultDevices } from "./_helpers.ts";

async function scrape(url: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return await fetch(`${url}/metrics`, { headers });
}

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail("The condition never held");
}

Deno.test("metrics are off unless --metrics-listen is set", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  assert.equal(relay.metricsAddress, undefined);
  const response = await fetch(`${relay.url}/metrics`);
  await response.body?.cancel();
  assert.equal(response.status, 404, "the public API does not serve metrics");
});

Deno.test("metrics need the bearer token when one is set", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
    metricsToken: "s3cret-token",
  });
  const url = `http://127.0.0.1:${relay.metricsAddress!.port}`;
  for (const token of [undefined, "wrong", "s3cret-token-and-more"]) {
    const response = await scrape(url, token);
    await response.body?.cancel();
    assert.equal(response.status, 401, String(token));
  }
  const response = await scrape(url, "s3cret-token");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^text\/plain/);
  assert.match(await response.text(), /# TYPE vaultmesh_relay_http_requests_total counter/);
});

Deno.test("metrics count requests, auth failures, envelopes and commits without identifying labels", async () => {
  using dir = tempDir();
  const clock = new ManualClock(Date.now());
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
    ttlHours: 1,
    rateLimitVault: { perSecond: 0.01, burst: 20 },
  }, sweepingEvery(20, { clock }));
  const url = `http://127.0.0.1:${relay.metricsAddress!.port}`;
  const [laptop, phone] = await vaultDevices(relay.url, ["laptop-7f3a", "phone-91bc"], { clock });
  await laptop!.send(bytes("ciphertext"));
  const page = await phone!.backlog();
  assert.equal(page.envelopes.length, 1);
  await (await fetch(`${relay.url}/nowhere/${laptop!.vaultId}`)).body?.cancel();
  await (await fetch(`${relay.url}/v3/vaults/${laptop!.vaultId}`, { headers: PROTOCOL_3 })).body
    ?.cancel();
  relay.metrics.setSocketsOpen(2);

  const text = await (await scrape(url)).text();
  const series = (name: string) => value(text, `vaultmesh_relay_${name}`);
  assert.equal(series('http_requests_total{route="/v3/vaults/:vault/envelopes",status="201"}'), 1);
  assert.equal(series('http_requests_total{route="/v3/vaults/:vault/envelopes",status="200"}'), 1);
  assert.equal(series('http_requests_total{route="unmatched",status="404"}'), 1);
  assert.equal(series('auth_failures_total{reason="signature_missing"}'), 1);
  assert.equal(series("envelopes_stored_total"), 1);
  assert.equal(series('envelopes_delivered_total{path="backlog"}'), 1);
  assert.equal(series("buffered_bytes"), "ciphertext".length + 512, "body plus overhead");
  assert.equal(series("buffered_envelopes"), 1);
  assert.equal(series("vaults_with_data"), 1);
  assert.equal(series("sqlite_commit_batch_size_count"), 1);
  assert.equal(series("sqlite_commit_seconds_count"), 1);
  assert.equal(series("sockets_open"), 2);
  assert.equal(series("http_requests_in_flight"), 0);
  assert.equal(series("presence_blobs"), 0);
  assert.equal(series("replay_cache_nonces"), 2, "the send and the backlog were signed");
  assert.equal(series("long_polls_waiting"), 0);
  assert.equal(series("request_bytes_held"), 0, "every body was released with its request");
  assert.equal(series("socket_queued_bytes"), 0, "both readers keep up");
  assert.equal(series("scavenges_total"), 0, "an in-process relay has no exposed gc");
  for (const name of ["rate_limited_total", "envelopes_expired_total", "p2p_reservations"]) {
    assert.match(text, new RegExp(`# TYPE vaultmesh_relay_${name} `), name);
  }
  for (const secret of [laptop!.vaultId, "laptop-7f3a", "phone-91bc", "127.0.0.1"]) {
    assert.ok(!text.includes(secret), `metrics must not mention ${secret}`);
  }

  clock.advance(2 * 3600_000);
  await until(async () =>
    value(await (await scrape(url)).text(), "vaultmesh_relay_envelopes_expired_total") === 1
  );
});

Deno.test("metrics count rate-limit hits by limit name", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path, {
    metricsListen: { hostname: "127.0.0.1", port: 0 },
    rateLimitIp: { perSecond: 0.01, burst: 1 },
  });
  for (let i = 0; i < 3; i++) await (await fetch(`${relay.url}/health`)).body?.cancel();
  const text = await (await scrape(`http://127.0.0.1:${relay.metricsAddress!.port}`)).text();
  assert.equal(value(text, 'vaultmesh_relay_rate_limited_total{limit="address_rate"}'), 2);
  assert.equal(value(text, 'vaultmesh_relay_http_requests_total{route="/health",status="429"}'), 2);
});
