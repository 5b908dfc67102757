/**
 * Drain: one device fills a vault with a backlog (10000 envelopes of 1 KiB by default, as many as
 * a vault holds: 9.77 MiB; times are also given scaled to 10 MiB of bodies), then three
 * devices that have never connected fetch it page by page over HTTP, one as packed pages
 * (`Accept: application/vnd.vaultmesh.packed`, what the reference client asks for), one as
 * envelope frames (`application/vnd.vaultmesh.frames`) and one as JSON, and each acknowledges
 * the last seq. A third device connects its socket instead and is
 * pushed the backlog, acknowledging the last seq on the socket. Reports, for each, the time until
 * everything is received and acknowledged and the bytes on the wire (HTTP response bodies; on the
 * socket the envelope frames with their WebSocket heads, computed from what arrived) against the
 * envelope bodies they carry. Each run drains its vault once per way, in rotating order; the
 * times are the median of the runs after the relay's first, which is reported on its own (V8 has
 * not compiled the drain's code yet: it takes about twice as long).
 *
 * @module
 */
import { generateVaultKeys, RelayClient } from "../../lib/client/mod.ts";
import {
  type BacklogFormat,
  backlogMediaType,
  BINARY_PAGES,
  readBacklogPageHeaders,
} from "../../lib/protocol/backlog_page.ts";
import { envelopeFrameSize } from "../../lib/protocol/socket_frames.ts";
import { frameHeadBytes } from "../../lib/guard/raw_websocket.ts";
import { fixed, percentile, report, spawnBenchRelay } from "./_load.ts";

const ENVELOPE_BYTES = 1024;
/** The default backlog: a vault's envelope cap (`maxEnvelopesPerVault` in `lib/limits.ts`). */
const DEFAULT_ENVELOPES = 10_000;
const TEN_MIB = 10 * 1024 * 1024;
const FILL_CONCURRENCY = 64;

/** The ways a new device drains a backlog: HTTP pages in a format, or its socket. */
type Way = BacklogFormat | "socket";
/** How long a socket drain may take before the run fails. */
const SOCKET_DRAIN_TIMEOUT_MS = 60_000;

/** Sends `count` envelopes from one device with `FILL_CONCURRENCY` requests in flight. */
async function fill(sender: RelayClient, count: number): Promise<void> {
  const body = crypto.getRandomValues(new Uint8Array(ENVELOPE_BYTES));
  let next = 0;
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      await sender.send(body, { idempotencyKey: `fill-${i}` });
    }
  }));
}

interface DrainSample {
  readonly ms: number;
  readonly pages: number;
  readonly envelopes: number;
  readonly bodyBytes: number;
  readonly wireBytes: number;
}

/** One page as read off the wire: its envelopes' seqs and body sizes, and `more`. */
function readPage(format: BacklogFormat, response: Response, raw: Uint8Array) {
  if (format !== "json") {
    const { type, decode } = BINARY_PAGES[format];
    if (response.headers.get("content-type") !== type) {
      throw new Error(`Asked for ${format}, got ${response.headers.get("content-type")}`);
    }
    const { more } = readBacklogPageHeaders(response.headers);
    const envelopes = decode(raw).map((f) => ({ seq: f.seq, size: f.body.byteLength }));
    return { envelopes, more };
  }
  const page = JSON.parse(new TextDecoder().decode(raw)) as {
    envelopes: { seq: number; body: string }[];
    more: boolean;
  };
  const envelopes = page.envelopes.map((e) => ({
    seq: e.seq,
    size: Uint8Array.fromBase64(e.body).byteLength,
  }));
  return { envelopes, more: page.more };
}

/** Fetches every page after 0 in `format`, then acks the last seq; counts bodies and bytes. */
async function drainOnce(
  reader: RelayClient,
  options: { format: BacklogFormat; expected: number },
): Promise<DrainSample> {
  const headers = { accept: backlogMediaType(options.format) };
  const started = performance.now();
  let after = 0;
  let pages = 0;
  let envelopes = 0;
  let bodyBytes = 0;
  let wireBytes = 0;
  for (;;) {
    const response = await reader.request("GET", "/envelopes", { query: { after }, headers });
    const raw = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 200) {
      throw new Error(`Backlog answered ${response.status}: ${new TextDecoder().decode(raw)}`);
    }
    if (response.headers.has("content-encoding")) {
      throw new Error(`The page came compressed (${response.headers.get("content-encoding")})`);
    }
    wireBytes += raw.byteLength;
    pages++;
    const page = readPage(options.format, response, raw);
    for (const envelope of page.envelopes) bodyBytes += envelope.size;
    envelopes += page.envelopes.length;
    const last = page.envelopes.at(-1)?.seq;
    if (last !== undefined) after = last;
    if (!page.more || last === undefined) break;
  }
  await reader.ack(after);
  const ms = performance.now() - started;
  if (envelopes !== options.expected) {
    throw new Error(
      `The ${options.format} reader got ${envelopes} envelopes, expected ${options.expected}`,
    );
  }
  return { ms, pages, envelopes, bodyBytes, wireBytes };
}

/** Connects a socket after seq 0, receives every envelope, then acks the last seq on it. */
async function drainOverSocket(
  reader: RelayClient,
  options: { expected: number },
): Promise<DrainSample> {
  const started = performance.now();
  let envelopes = 0;
  let bodyBytes = 0;
  let wireBytes = 0;
  let last = 0;
  const all = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => all.reject(new Error(`The socket reader got ${envelopes} of ${options.expected}`)),
    SOCKET_DRAIN_TIMEOUT_MS,
  );
  const socket = await reader.connect({
    after: 0,
    onEnvelope: (envelope) => {
      envelopes++;
      bodyBytes += envelope.body.byteLength;
      const frame = envelopeFrameSize(envelope);
      wireBytes += frameHeadBytes(frame) + frame;
      last = envelope.seq;
      if (envelopes === options.expected) all.resolve();
    },
  });
  try {
    await all.promise;
    await socket.ack(last);
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  await socket.close();
  return { ms, pages: 0, envelopes, bodyBytes, wireBytes };
}

/** One format's figures (the time is the median over the runs). */
export interface DrainSide {
  readonly drainMs: number;
  /** `drainMs` scaled to 10 MiB of bodies. */
  readonly drainMsPer10MiB: number;
  /** Every run's drain time, in run order. */
  readonly allMs: readonly number[];
  /** The drain time of the relay's first run, before V8 compiled the code (not in the median). */
  readonly coldMs: number;
  readonly drainMiBPerSecond: number;
  readonly pages: number;
  readonly wireBytes: number;
  readonly bodyBytes: number;
  /** Wire bytes / body bytes. */
  readonly inflation: number;
  /** Wire bytes beyond the bodies, per envelope. */
  readonly overheadBytesPerEnvelope: number;
}

/**
 * The scenario's figures: `packed`, `frames` and `json` per format; the unprefixed drain figures
 * repeat `packed`, the format the reference client asks for.
 */
export interface DrainFigures extends DrainSide {
  readonly runs: number;
  readonly envelopes: number;
  readonly backlogMiB: number;
  readonly fillMs: number;
  readonly packed: DrainSide;
  readonly frames: DrainSide;
  readonly json: DrainSide;
  readonly socket: DrainSide;
}

function side(samples: readonly DrainSample[], cold: DrainSample): DrainSide {
  const drainMs = percentile(samples.map((s) => s.ms), 50);
  const first = samples[0]!;
  return {
    drainMs,
    drainMsPer10MiB: drainMs * TEN_MIB / first.bodyBytes,
    allMs: samples.map((s) => s.ms),
    coldMs: cold.ms,
    drainMiBPerSecond: first.bodyBytes / 1024 / 1024 / (drainMs / 1000),
    pages: first.pages,
    wireBytes: first.wireBytes,
    bodyBytes: first.bodyBytes,
    inflation: first.wireBytes / first.bodyBytes,
    overheadBytesPerEnvelope: (first.wireBytes - first.bodyBytes) / first.envelopes,
  };
}

const WAYS: readonly Way[] = ["packed", "frames", "json", "socket"];

/**
 * One run on a new vault: fills it with `count` envelopes, then drains it every way, starting
 * with a different way each run (the last reader's acknowledgement deletes the backlog).
 */
async function drainRun(url: string, count: number, run: number) {
  const keys = await generateVaultKeys();
  const sender = await RelayClient.create({ url, keys, device: "sender" });
  const readers = {
    packed: await RelayClient.create({ url, keys, device: `packed${run}` }),
    frames: await RelayClient.create({ url, keys, device: `frames${run}` }),
    json: await RelayClient.create({ url, keys, device: `json${run}` }),
    socket: await RelayClient.create({ url, keys, device: `socket${run}` }),
  };
  // Every reader is seen before the fill, so the first one's ack deletes nothing the
  // others have yet to read.
  for (const reader of Object.values(readers)) await reader.usage();
  const t0 = performance.now();
  await fill(sender, count);
  const fillMs = performance.now() - t0;
  const samples = {} as Record<Way, DrainSample>;
  for (const way of [...WAYS.slice(run % 4), ...WAYS.slice(0, run % 4)]) {
    samples[way] = way === "socket"
      ? await drainOverSocket(readers.socket, { expected: count })
      : await drainOnce(readers[way], { format: way, expected: count });
  }
  return { fillMs, samples };
}

/**
 * Runs the scenario and prints its figures. Bounded by `envelopes` (default 10000) and
 * `runs` (default 3, each on a new vault, after a first run that warms the relay up), not by
 * `seconds`.
 */
export async function drain(
  options: { seconds: number; json: boolean; envelopes?: number; runs?: number },
): Promise<DrainFigures> {
  const count = options.envelopes ?? DEFAULT_ENVELOPES;
  const runs = options.runs ?? 3;
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-" });
  try {
    await using relay = await spawnBenchRelay(dir, [
      "--max-buffer",
      String(Math.max(16 * 1024 * 1024, 2 * count * ENVELOPE_BYTES)),
    ]);
    // The first run of a relay drains through code V8 has not compiled yet (about twice as slow):
    // it is reported on its own, and the median is over the runs after it, as a relay that has
    // been serving for a while drains.
    const warmUp = await drainRun(relay.url, count, 0);
    const fills: number[] = [];
    const samples: Record<Way, DrainSample[]> = { packed: [], frames: [], json: [], socket: [] };
    for (let run = 1; run <= runs; run++) {
      const measured = await drainRun(relay.url, count, run);
      fills.push(measured.fillMs);
      for (const way of WAYS) samples[way].push(measured.samples[way]);
    }
    await relay.stop();
    const packed = side(samples.packed, warmUp.samples.packed);
    const frames = side(samples.frames, warmUp.samples.frames);
    const json = side(samples.json, warmUp.samples.json);
    const socket = side(samples.socket, warmUp.samples.socket);
    const figures: DrainFigures = {
      runs,
      envelopes: count,
      backlogMiB: (count * ENVELOPE_BYTES) / 1024 / 1024,
      fillMs: percentile(fills, 50),
      ...packed,
      packed,
      frames,
      json,
      socket,
    };
    const rows = (name: string, figures: DrainSide): [string, string][] => [
      [`${name}: all received and acked, ms (median)`, fixed(figures.drainMs, 0)],
      [`${name}: the same per 10 MiB of bodies, ms`, fixed(figures.drainMsPer10MiB, 0)],
      [`${name}: every run, ms`, figures.allMs.map((ms) => fixed(ms, 0)).join(" ")],
      [`${name}: the relay's first run (not in the median), ms`, fixed(figures.coldMs, 0)],
      [`${name}: MiB/s of bodies`, fixed(figures.drainMiBPerSecond, 1)],
      [`${name}: pages`, String(figures.pages)],
      [`${name}: wire bytes / payload bytes`, fixed(figures.inflation, 3)],
      [
        `${name}: wire bytes beyond the body, per envelope`,
        fixed(figures.overheadBytesPerEnvelope, 1),
      ],
    ];
    report({
      title:
        `drain: ${count} x 1 KiB envelopes (${
          fixed(figures.backlogMiB, 2)
        } MiB) to a new device over HTTP (packed, framed and JSON pages) and over its socket, ` +
        `median of ${runs} after a first run ` +
        `(targets for the reference client's packed pages: wire <= 1.02 x payload, ` +
        `10 MiB in <= 150 ms)`,
      json: options.json,
      rows: [
        ...rows("packed", packed),
        ...rows("frames", frames),
        ...rows("json", json),
        ...rows("socket", socket).filter(([name]) => !name.endsWith("pages")),
        ["json / packed drain time", fixed(json.drainMs / packed.drainMs, 2)],
        ["fill (64 concurrent sends), ms", fixed(figures.fillMs, 0)],
      ],
      figures: { scenario: "drain", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
