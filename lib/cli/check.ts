/**
 * `vaultmesh-relay check <url>`: probes a deployed relay the way a client would and prints one
 * `PASS <step>` or `FAIL <step>: <reason>` line per step (`SKIP` where a step does not apply).
 * Each step runs only if the ones it needs passed.
 *
 * @module
 */
import { generateVaultKeys, RelayClient } from "../client/mod.ts";
import { MODES } from "../config/mod.ts";
import { PROTOCOL_NAME, PROTOCOL_VERSION } from "../version.ts";

/** Options for {@linkcode runCheck}. */
export interface CheckOptions {
  /** Where result lines go; defaults to `console.log`. */
  readonly print?: (line: string) => void;
  /** The fetch to use, e.g. one trusting a test CA. */
  readonly fetch?: typeof fetch;
}

/** A step failed; its message is the reason printed. */
class StepFailure extends Error {}

function expect(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new StepFailure(reason);
}

interface Health {
  readonly mode: string;
  readonly buffering: string;
}

async function probeHealth(url: URL, fetcher: typeof fetch): Promise<Health> {
  const response = await fetcher(new URL("/health", url));
  const raw = await response.text();
  expect(response.status === 200, `GET /health answered ${response.status}, expected 200`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new StepFailure(`GET /health answered ${JSON.stringify(raw.slice(0, 80))}, not JSON`);
  }
  const mode = String(body.mode);
  const buffering = mode === "stateless" ? "disabled" : "enabled";
  const expected = JSON.stringify({ status: "ok", protocol: PROTOCOL_NAME, mode, buffering });
  expect(
    (MODES as readonly string[]).includes(mode) && raw === expected,
    `GET /health answered ${JSON.stringify(raw.slice(0, 200))}, expected the shape ${expected}`,
  );
  const header = response.headers.get("x-vaultmesh-protocol");
  expect(
    header === PROTOCOL_VERSION,
    `X-VaultMesh-Protocol is ${JSON.stringify(header)}, expected "${PROTOCOL_VERSION}"`,
  );
  return { mode, buffering };
}

function describe(error: unknown): string {
  if (error instanceof StepFailure) return error.message;
  const cause = (error as Error).cause;
  return cause ? `${(error as Error).message}: ${String(cause)}` : String(error);
}

/** Sends from A and fetches as B; in stateless mode B must be waiting when A sends. */
async function roundTrip(
  a: RelayClient,
  b: RelayClient,
  health: Health,
): Promise<{ seq: number }> {
  const payload = crypto.getRandomValues(new Uint8Array(32));
  if (health.buffering === "enabled") {
    const sent = await a.send(payload);
    expect(sent.stored, "The relay did not store the envelope");
    const page = await b.backlog();
    const got = page.envelopes.find((envelope) => envelope.seq === sent.seq);
    expect(got && got.body.toHex() === payload.toHex(), "Device B did not get the envelope");
    return { seq: sent.seq };
  }
  const waiting = b.backlog({ wait: 10 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const sent = await a.send(payload);
  const page = await waiting;
  expect(page.envelopes.some((e) => e.seq === sent.seq), "Device B did not get the envelope live");
  return { seq: sent.seq };
}

/** Opens a socket for each device; A sends, B must receive it live and acknowledge it. */
async function socketSession(a: RelayClient, b: RelayClient): Promise<void> {
  const payload = crypto.getRandomValues(new Uint8Array(32));
  const received = Promise.withResolvers<Uint8Array>();
  const timer = setTimeout(
    () => received.reject(new StepFailure("No envelope within 10 s")),
    10_000,
  );
  const receiver = await b.connect({ onEnvelope: (envelope) => received.resolve(envelope.body) });
  try {
    const sender = await a.connect();
    try {
      const receipt = await sender.send(payload, { to: b.device });
      const body = await received.promise;
      expect(body.toHex() === payload.toHex(), "Device B got different bytes than A sent");
      if (receipt.stored) await receiver.ack(receipt.seq);
    } finally {
      await sender.close();
    }
  } finally {
    clearTimeout(timer);
    await receiver.close();
  }
}

/**
 * Runs every step against `url`. Returns whether all passed.
 *
 * @example
 * ```ts
 * const ok = await runCheck("https://relay.example.org");
 * if (!ok) Deno.exit(1);
 * ```
 */
export async function runCheck(url: string, options: CheckOptions = {}): Promise<boolean> {
  const print = options.print ?? console.log;
  const fetcher = options.fetch ?? fetch;
  const base = new URL(url);
  let failed = false;
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      const value = await run();
      print(`PASS ${name}`);
      return value;
    } catch (error) {
      failed = true;
      print(`FAIL ${name}: ${describe(error)}`);
      return undefined;
    }
  };
  const health = await step("health and protocol", () => probeHealth(base, fetcher));
  if (base.protocol !== "https:") {
    print("SKIP tls: the URL is http://; devices need https:// through a TLS proxy");
  } else if (health) print("PASS tls: the connection and certificate are valid");
  else print("FAIL tls: see the health step (the connection did not complete)");
  if (!health) return false;
  const keys = await generateVaultKeys();
  const [a, b] = await Promise.all(
    ["check-a", "check-b"].map((device) =>
      RelayClient.create({ url: base.href, keys, device, fetch: fetcher })
    ),
  );
  const sent = await step("send and backlog on a throwaway vault", () => roundTrip(a!, b!, health));
  if (sent) await step("ack", async () => void await b!.ack(sent.seq));
  await step("socket session (challenge, live envelope, ack)", () => socketSession(a!, b!));
  await step("purge", async () => void await a!.purge());
  return !failed;
}
