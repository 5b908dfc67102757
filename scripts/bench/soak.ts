/**
 * Soak: a bounded run against one relay child mixing senders (with idempotency keys and
 * retries), readers that fetch the backlog and acknowledge, purges, reconnects (new clients that
 * resume from the relay's cursor) and fuzz traffic (bad paths, methods, signatures, protocol
 * headers, parameters, replays and oversized bodies). Prints resident memory over time, counts
 * answers by kind and ends with an integrity check: every envelope the relay acknowledged (a
 * send that returned a seq) reached the reader device exactly once, intact, or was deleted by a
 * purge, and no seq was handed out for two sends. Any 5xx is a failure.
 *
 * Delivery is at least once: an ack the relay refuses (429) changes nothing, so the page comes
 * again. The reader waits the refusal's Retry-After and tries the ack once more; if that is
 * refused too it drops the page, and the envelopes served again later are counted apart
 * ("served again after a refused ack"), not as duplicates. A duplicate is an envelope served
 * again after an accepted ack covered it.
 *
 * Expiry cannot happen inside the run (the shortest `--ttl-hours` is 1), so the soak checks the
 * expiry rule where it applies: every delivered envelope carries `expires_at = created_at + TTL`.
 *
 * @module
 */
import { generateVaultKeys, RelayClient, RelayError, signRequest } from "../../lib/client/mod.ts";
import { fixed, report, spawnBenchRelay } from "./_load.ts";
import { processMemory } from "./_memory.ts";

const TTL_HOURS = 1;
const SEND_BURST = 8;
/** The wait after a 429 without `retry_after` in its body (`replay_cache_full`: Retry-After 5). */
const RETRY_AFTER_MS = 5000;

/** What the run knows about one vault, for the integrity check. */
interface VaultLedger {
  /** seq -> idempotency key, for every send the relay acknowledged. */
  readonly acknowledged: Map<number, string>;
  /** seq -> times delivered to the reader. */
  readonly delivered: Map<number, number>;
  /** Acknowledged seqs that were not delivered when the vault was purged. */
  readonly purged: Set<number>;
  /** Seqs of pages dropped after a refused ack, not served again yet. */
  readonly refused: Set<number>;
  /** Envelopes served again after an ack covering them was refused (at-least-once, expected). */
  servedAgainAfterRefusedAck: number;
  /** Sends answered with a seq the relay had already given another send of the vault. */
  seqsReused: number;
  /** Delivered envelopes whose body did not match their key. */
  corrupt: number;
  /** Delivered envelopes whose expiry was not created + TTL. */
  badExpiry: number;
}

/** Counts of answers and failures by kind, e.g. `send 201` or `fuzz 5xx`. */
class Tally {
  readonly counts = new Map<string, number>();
  fiveXX = 0;
  tooMany = 0;

  add(kind: string, status?: number): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (status !== undefined && status >= 500) this.fiveXX++;
    if (status === 429) this.tooMany++;
  }

  /** Counts `<what> <status>` and any 5xx. */
  status(what: string, status: number): void {
    this.add(`${what} ${status}`, status);
  }

  /** Counts a thrown error as `<what> <status>` (relay errors) or `<what> network`. */
  error(what: string, error: unknown): void {
    if (error instanceof RelayError) this.status(what, error.status);
    else this.add(`${what} network: ${error instanceof Error ? error.name : "unknown"}`);
  }
}

function bodyFor(key: string): Uint8Array<ArrayBuffer> {
  const padding = 64 + Math.floor(Math.random() * 1984);
  return new TextEncoder().encode(`${key}:${"x".repeat(padding)}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One vault's life: bursts of sends, reads with acks, reconnects and now and then a purge, one
 * step at a time, so a purge never races a send of the same vault and the ledger stays exact.
 */
class VaultActor {
  readonly ledger: VaultLedger = {
    acknowledged: new Map(),
    delivered: new Map(),
    purged: new Set(),
    refused: new Set(),
    servedAgainAfterRefusedAck: 0,
    seqsReused: 0,
    corrupt: 0,
    badExpiry: 0,
  };
  #sender!: RelayClient;
  #reader!: RelayClient;
  /** The reader's cursor; undefined after a reconnect (the relay's acked cursor is used). */
  #after: number | undefined;
  #sent = 0;
  /** Set to the refusal's Retry-After (ms) when the relay answered 429; the next step waits. */
  #throttled = 0;

  private constructor(
    readonly name: string,
    private readonly url: string,
    /** The vault's key pair. */
    readonly keys: CryptoKeyPair,
    private readonly tally: Tally,
  ) {}

  static async create(name: string, url: string, tally: Tally): Promise<VaultActor> {
    const actor = new VaultActor(name, url, await generateVaultKeys(), tally);
    await actor.reconnect();
    return actor;
  }

  async reconnect(): Promise<void> {
    [this.#sender, this.#reader] = await Promise.all([
      RelayClient.create({ url: this.url, keys: this.keys, device: "sender" }),
      RelayClient.create({ url: this.url, keys: this.keys, device: "reader" }),
    ]);
    this.#after = undefined;
  }

  /** Sends with retries on network errors (the idempotency key makes them safe). */
  async #sendOne(key: string): Promise<void> {
    const body = bodyFor(key);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const result = await this.#sender.send(body, { idempotencyKey: key });
        this.tally.add(result.duplicate ? "send duplicate" : "send stored");
        this.#remember(key, result.seq);
        if (Math.random() < 0.1) {
          // A retry after a lost answer: must name the same seq.
          const again = await this.#sender.send(body, { idempotencyKey: key });
          this.tally.add(again.duplicate ? "retry duplicate" : "retry stored again");
          this.#remember(key, again.seq);
        }
        return;
      } catch (error) {
        this.tally.error("send", error);
        if (error instanceof RelayError) {
          this.#throttle(error);
          return;
        }
      }
    }
  }

  #remember(key: string, seq: number): void {
    const known = this.ledger.acknowledged.get(seq);
    if (known !== undefined && known !== key) {
      this.tally.add("send seq reused for another key");
      this.ledger.seqsReused++;
    }
    for (const [otherSeq, otherKey] of this.ledger.acknowledged) {
      if (otherKey === key && otherSeq !== seq && !this.ledger.purged.has(otherSeq)) {
        this.tally.add("idempotency key stored twice");
        break;
      }
    }
    this.ledger.acknowledged.set(seq, key);
  }

  /** Remembers a 429's Retry-After, so the next step waits as a polite client would. */
  #throttle(error: unknown): void {
    if (!(error instanceof RelayError && error.status === 429)) return;
    this.#throttled = Math.max(this.#throttled, retryAfterMs(error));
  }

  /**
   * Acks `seq`; after a 429 waits its Retry-After and tries once more. True if accepted: a
   * refused ack changes nothing on the relay.
   */
  async #ack(seq: number): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.#reader.ack(seq);
        this.tally.add(attempt === 0 ? "ack 200" : "ack 200 after Retry-After");
        return true;
      } catch (error) {
        this.tally.error("ack", error);
        if (!(error instanceof RelayError && error.status === 429) || attempt > 0) {
          this.#throttle(error);
          return false;
        }
        await sleep(retryAfterMs(error));
      }
    }
    return false;
  }

  async sendBurst(): Promise<void> {
    await Promise.all(
      Array.from({ length: SEND_BURST }, () => this.#sendOne(`${this.name}-${this.#sent++}`)),
    );
  }

  /** Reads up to `pages` pages and acks what it got; true if the backlog is empty. */
  async read(pages: number): Promise<boolean> {
    for (let page = 0; page < pages; page++) {
      let result;
      try {
        // JSON pages: the check below needs expires_at, which binary pages leave out.
        result = await this.#reader.backlog(
          this.#after === undefined ? { format: "json" } : { after: this.#after, format: "json" },
        );
        this.tally.add("backlog 200");
      } catch (error) {
        this.tally.error("backlog", error);
        this.#throttle(error);
        return false;
      }
      if (result.envelopes.length === 0) return true;
      for (const envelope of result.envelopes) this.#check(envelope);
      const last = result.envelopes.at(-1)!.seq;
      if (await this.#ack(last)) {
        this.#after = last;
      } else {
        // Unacknowledged, so the relay rightly hands the page out again: the reader drops it,
        // as a real device would, and only deliveries it acknowledged count. What is served
        // again is counted apart, as the at-least-once redelivery it is.
        for (const envelope of result.envelopes) {
          // Back to "never delivered" at zero, so a purge before the re-read counts it as purged.
          const count = this.ledger.delivered.get(envelope.seq)! - 1;
          if (count === 0) this.ledger.delivered.delete(envelope.seq);
          else this.ledger.delivered.set(envelope.seq, count);
          this.ledger.refused.add(envelope.seq);
        }
        this.tally.add("page dropped after a failed ack");
        return false;
      }
      if (!result.more) return true;
    }
    return false;
  }

  #check(envelope: { seq: number; body: Uint8Array; createdAt: number; expiresAt: number }) {
    const { delivered, refused } = this.ledger;
    delivered.set(envelope.seq, (delivered.get(envelope.seq) ?? 0) + 1);
    if (refused.delete(envelope.seq)) this.ledger.servedAgainAfterRefusedAck++;
    const key = this.ledger.acknowledged.get(envelope.seq);
    const text = new TextDecoder().decode(envelope.body);
    if (key !== undefined && !text.startsWith(`${key}:x`)) this.ledger.corrupt++;
    const ttl = envelope.expiresAt - envelope.createdAt;
    if (ttl !== TTL_HOURS * 3600 * 1000 && ttl !== TTL_HOURS * 3600) this.ledger.badExpiry++;
  }

  async purge(): Promise<void> {
    try {
      await this.#sender.purge();
      this.tally.add("purge 200");
    } catch (error) {
      this.tally.error("purge", error);
      return;
    }
    for (const seq of this.ledger.acknowledged.keys()) {
      if (!this.ledger.delivered.has(seq)) this.ledger.purged.add(seq);
    }
    this.ledger.refused.clear();
  }

  /** Random steps until `deadline`. */
  async run(deadline: number): Promise<void> {
    while (performance.now() < deadline) {
      if (this.#throttled > 0) {
        const wait = this.#throttled;
        this.#throttled = 0;
        await sleep(Math.min(wait, Math.max(0, deadline - performance.now())));
        continue;
      }
      const roll = Math.random();
      if (roll < 0.55) await this.sendBurst();
      else if (roll < 0.9) await this.read(1 + Math.floor(Math.random() * 2));
      else if (roll < 0.99) await this.reconnect();
      else await this.purge();
    }
  }
}

/**
 * How long a 429 asks to wait: its body's `retry_after` (`rate_limited`), else 5 s (the
 * Retry-After of `replay_cache_full`; RelayError does not carry headers).
 */
function retryAfterMs(error: RelayError): number {
  const seconds = error.body.retry_after;
  return typeof seconds === "number" && seconds > 0 ? seconds * 1000 : RETRY_AFTER_MS;
}

/** Garbage and hostile requests; every answer must be below 500. */
class Fuzzer {
  readonly #encoder = new TextEncoder();
  #count = 0;

  private constructor(
    private readonly url: string,
    private readonly victim: RelayClient,
    private readonly victimKeys: CryptoKeyPair,
    private readonly stranger: CryptoKeyPair,
    private readonly tally: Tally,
  ) {}

  static async create(url: string, tally: Tally): Promise<Fuzzer> {
    const keys = await generateVaultKeys();
    const victim = await RelayClient.create({ url, keys, device: "v" });
    return new Fuzzer(url, victim, keys, await generateVaultKeys(), tally);
  }

  get count(): number {
    return this.#count;
  }

  async #raw(kind: string, input: string | URL, init: RequestInit = {}): Promise<void> {
    this.#count++;
    try {
      // Joined as text: resolving "//…" against the base would read it as a host name.
      const url = typeof input === "string" ? this.url.replace(/\/$/, "") + input : input;
      const response = await fetch(url, init);
      await response.body?.cancel();
      this.tally.status(`fuzz ${kind}`, response.status);
    } catch (error) {
      this.tally.add(`fuzz ${kind} network: ${error instanceof Error ? error.name : "unknown"}`);
    }
  }

  async #signed(
    method: string,
    path: string,
    options: { body?: Uint8Array<ArrayBuffer>; keys?: CryptoKeyPair; query?: string } = {},
  ): Promise<{ url: URL; headers: Headers }> {
    const url = new URL(`/v3/vaults/${this.victim.vaultId}${path}${options.query ?? ""}`, this.url);
    const headers = new Headers({ "x-vaultmesh-protocol": "3", "x-vaultmesh-device": "fuzz" });
    await signRequest({ method, url, headers, body: options.body }, {
      privateKey: (options.keys ?? this.victimKeys).privateKey,
      keyid: this.victim.vaultId,
    });
    return { url, headers };
  }

  randomText(length: number): string {
    const alphabet = "abcXYZ019-_./%~?&=:;@!$'()*+,[]{}<>\"\\ ";
    return Array.from({ length }, () => alphabet[Math.floor(Math.random() * alphabet.length)])
      .join("");
  }

  async once(): Promise<void> {
    const v3 = { "x-vaultmesh-protocol": "3" };
    const vault = `/v3/vaults/${this.victim.vaultId}`;
    switch (Math.floor(Math.random() * 12)) {
      case 0: {
        const method = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"][
          Math.floor(Math.random() * 7)
        ]!;
        const path = "/" + encodeURI(this.randomText(1 + Math.floor(Math.random() * 80)));
        return await this.#raw("random path", path, { method, headers: v3 });
      }
      case 1:
        return await this.#raw("garbage vault id", `/v3/vaults/${this.randomText(43)}/envelopes`, {
          headers: v3,
        });
      case 2:
        return await this.#raw("unsigned", `${vault}/envelopes`, { headers: v3 });
      case 3: {
        const { url, headers } = await this.#signed("GET", "/envelopes");
        const signature = headers.get("signature")!;
        headers.set("signature", signature.replace(/:(.)/, (_, c) => `:${c === "A" ? "B" : "A"}`));
        return await this.#raw("tampered signature", url, { headers });
      }
      case 4: {
        const { url, headers } = await this.#signed("GET", "/envelopes", { keys: this.stranger });
        return await this.#raw("wrong key", url, { headers });
      }
      case 5: {
        const body = new Uint8Array((2 + Math.floor(Math.random() * 4)) * 1024 * 1024);
        const { url, headers } = await this.#signed("POST", "/envelopes", { body });
        return await this.#raw("huge signed body", url, { method: "POST", headers, body });
      }
      case 6: {
        const body = new Uint8Array(8 * 1024 * 1024);
        return await this.#raw("huge unsigned body", `${vault}/envelopes`, {
          method: "POST",
          headers: v3,
          body,
        });
      }
      case 7: {
        const { url, headers } = await this.#signed("GET", "/envelopes");
        headers.set("x-vaultmesh-protocol", String(Math.floor(Math.random() * 10)));
        return await this.#raw("protocol header", url, { headers });
      }
      case 8: {
        const body = this.#encoder.encode(this.randomText(Math.floor(Math.random() * 200)));
        const { url, headers } = await this.#signed("POST", "/ack", { body });
        return await this.#raw("malformed ack", url, { method: "POST", headers, body });
      }
      case 9: {
        const query = ["?after=-1", "?limit=abc", "?wait=999999", "?after=1e99", "?limit=0"][
          Math.floor(Math.random() * 5)
        ];
        const { url, headers } = await this.#signed("GET", "/envelopes", { query: query! });
        return await this.#raw("bad parameter", url, { headers });
      }
      case 10: {
        const { url, headers } = await this.#signed("GET", "");
        await this.#raw("signed once", url, { headers });
        return await this.#raw("replay", url, { headers });
      }
      default: {
        const headers = new Headers({
          ...v3,
          "x-vaultmesh-device": this.randomText(70),
          "signature-input": this.randomText(Math.floor(Math.random() * 300)),
          "signature": this.randomText(Math.floor(Math.random() * 120)),
        });
        return await this.#raw("garbage signature headers", `${vault}/envelopes`, { headers });
      }
    }
  }
}

/** The scenario's figures. */
export interface SoakFigures {
  readonly seconds: number;
  readonly vaults: number;
  readonly acknowledged: number;
  readonly delivered: number;
  readonly purgedUndelivered: number;
  readonly lost: number;
  /** Envelopes served again after an accepted ack covered them: true duplicates. */
  readonly duplicated: number;
  /** Envelopes served again after an ack covering them was refused (429): expected. */
  readonly servedAgainAfterRefusedAck: number;
  /** Sends answered with a seq another send of the vault already had. */
  readonly seqsReused: number;
  readonly corrupt: number;
  readonly badExpiry: number;
  readonly unknownDelivered: number;
  readonly leftAfterFinalAck: number;
  readonly fiveXX: number;
  readonly tooManyRequests: number;
  readonly fuzzRequests: number;
  readonly rssMibAfterWarmup: number;
  readonly rssMibEnd: number;
  readonly rssMibMax: number;
  /** When the reference sample was taken: 300 s, or a sixth of a shorter run. */
  readonly referenceSeconds: number;
  readonly rssMibAtReference: number;
  readonly anonMibAtReference: number;
  readonly anonMibEnd: number;
  /** RSS at the end over RSS at the reference (issue 15: at most 1.10 over 30 minutes). */
  readonly endToReference: number;
  /** RSS and RssAnon in MiB, one sample per interval. */
  readonly series: readonly { at: number; rssMib: number; anonMib: number }[];
  readonly counts: Record<string, number>;
  readonly ok: boolean;
}

/** About 20 samples of `rss` spread over the run, as `t: MiB` pairs. */
function seriesText(rss: readonly { at: number; mib: number }[], seconds: number): string {
  const step = seconds / 20;
  const picked = rss.filter((s, i) =>
    i === 0 || Math.floor(s.at / step) > Math.floor(rss[i - 1]!.at / step)
  );
  return picked.map((s) => `${fixed(s.at, 0)}: ${fixed(s.mib)}`).join(", ");
}

/**
 * Runs the soak for `seconds` and prints memory lines while it runs, then its figures.
 * `vaults` (default 16) actors run at once, with `fuzzers` (default 2) fuzz workers.
 */
export async function soak(
  options: { seconds: number; json: boolean; vaults?: number; fuzzers?: number },
): Promise<SoakFigures> {
  const vaultCount = options.vaults ?? 16;
  const fuzzerCount = options.fuzzers ?? 2;
  const interval = Math.max(1, Math.min(10, Math.round(options.seconds / 20)));
  const log = (line: string) => options.json ? console.error(line) : console.log(line);
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-bench-" });
  try {
    await using relay = await spawnBenchRelay(dir, [
      "--ttl-hours",
      String(TTL_HOURS),
      "--max-buffer",
      "64MiB",
    ]);
    const tally = new Tally();
    const actors = await Promise.all(
      Array.from({ length: vaultCount }, (_, i) => VaultActor.create(`v${i}`, relay.url, tally)),
    );
    const fuzzers = await Promise.all(
      Array.from({ length: fuzzerCount }, () => Fuzzer.create(relay.url, tally)),
    );
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    const rss: { at: number; mib: number; anonMib: number }[] = [];
    const sample = () => {
      const memory = processMemory(relay.child.pid);
      const mib = memory.rssBytes / 1024 / 1024;
      const anonMib = memory.anonBytes / 1024 / 1024;
      const at = (performance.now() - started) / 1000;
      rss.push({ at, mib, anonMib });
      const sent = actors.reduce((n, a) => n + a.ledger.acknowledged.size, 0);
      const fuzz = fuzzers.reduce((n, f) => n + f.count, 0);
      log(
        `  t=${fixed(at, 0).padStart(4)} s  rss ${fixed(mib)} MiB  anon ${fixed(anonMib)} MiB  ` +
          `acknowledged ${sent}  ` +
          `fuzz ${fuzz}  429 ${tally.tooMany}  5xx ${tally.fiveXX}`,
      );
    };
    log(`soak: ${options.seconds} s, ${vaultCount} vaults, ${fuzzerCount} fuzzers`);
    sample();
    const sampler = setInterval(sample, interval * 1000);
    try {
      await Promise.all([
        ...actors.map((actor) => actor.run(deadline)),
        ...fuzzers.map(async (fuzzer) => {
          while (performance.now() < deadline) {
            await fuzzer.once();
            await sleep(1);
          }
        }),
      ]);
    } finally {
      clearInterval(sampler);
    }
    sample();
    // Final read: a reconnected reader takes everything left and acknowledges it.
    for (const actor of actors) {
      await actor.reconnect();
      while (!await actor.read(100)) await sleep(1000);
    }
    let leftAfterFinalAck = 0;
    for (const actor of actors) {
      const sender = await RelayClient.create({
        url: relay.url,
        keys: actor.keys,
        device: "sender",
      });
      for (;;) {
        try {
          leftAfterFinalAck += (await sender.usage()).envelopes;
          break;
        } catch (error) {
          if (!(error instanceof RelayError && error.status === 429)) throw error;
          await sleep(1000);
        }
      }
    }
    await relay.stop();

    let acknowledged = 0, delivered = 0, purgedUndelivered = 0, lost = 0, duplicated = 0;
    let corrupt = 0, badExpiry = 0, unknownDelivered = 0, servedAgain = 0, seqsReused = 0;
    for (const { ledger } of actors) {
      acknowledged += ledger.acknowledged.size;
      servedAgain += ledger.servedAgainAfterRefusedAck;
      seqsReused += ledger.seqsReused;
      corrupt += ledger.corrupt;
      badExpiry += ledger.badExpiry;
      for (const seq of ledger.acknowledged.keys()) {
        const times = ledger.delivered.get(seq) ?? 0;
        if (times === 1) delivered++;
        else if (times > 1) duplicated++;
        else if (ledger.purged.has(seq)) purgedUndelivered++;
        else lost++;
      }
      for (const seq of ledger.delivered.keys()) {
        if (!ledger.acknowledged.has(seq)) unknownDelivered++;
      }
    }
    // Envelopes served again after a refused ack are at-least-once delivery, not a failure.
    const failures = lost + duplicated + seqsReused + corrupt + badExpiry + unknownDelivered +
      tally.fiveXX;
    const warm = rss.find((s) => s.at >= options.seconds * 0.2) ?? rss[0]!;
    const referenceSeconds = Math.min(300, options.seconds / 6);
    const reference = rss.find((s) => s.at >= referenceSeconds) ?? rss[0]!;
    // The last sample under load; the one after it follows the final read.
    const end = rss.at(-2) ?? rss.at(-1)!;
    const figures: SoakFigures = {
      seconds: options.seconds,
      vaults: vaultCount,
      acknowledged,
      delivered,
      purgedUndelivered,
      lost,
      duplicated,
      servedAgainAfterRefusedAck: servedAgain,
      seqsReused,
      corrupt,
      badExpiry,
      unknownDelivered,
      leftAfterFinalAck,
      fiveXX: tally.fiveXX,
      tooManyRequests: tally.tooMany,
      fuzzRequests: fuzzers.reduce((n, f) => n + f.count, 0),
      rssMibAfterWarmup: warm.mib,
      rssMibEnd: end.mib,
      rssMibMax: Math.max(...rss.map((s) => s.mib)),
      referenceSeconds,
      rssMibAtReference: reference.mib,
      anonMibAtReference: reference.anonMib,
      anonMibEnd: end.anonMib,
      endToReference: end.mib / reference.mib,
      series: rss.map((s) => ({ at: s.at, rssMib: s.mib, anonMib: s.anonMib })),
      counts: Object.fromEntries([...tally.counts].sort(([a], [b]) => a.localeCompare(b))),
      ok: failures === 0,
    };
    report({
      title: `soak: ${options.seconds} s, ${vaultCount} vaults, ${fuzzerCount} fuzzers — ${
        figures.ok ? "PASS" : "FAIL"
      }`,
      json: options.json,
      rows: [
        ["acknowledged sends", String(acknowledged)],
        ["delivered exactly once", String(delivered)],
        ["deleted by purge before delivery", String(purgedUndelivered)],
        ["lost", String(lost)],
        ["delivered again after an accepted ack", String(duplicated)],
        ["served again after a refused ack (expected)", String(servedAgain)],
        ["seqs handed out twice", String(seqsReused)],
        ["corrupt bodies", String(corrupt)],
        ["expiry not created + TTL", String(badExpiry)],
        ["delivered but never acknowledged", String(unknownDelivered)],
        ["stored after the final ack", String(leftAfterFinalAck)],
        ["5xx answers", String(tally.fiveXX)],
        ["429 answers (clients then wait Retry-After)", String(tally.tooMany)],
        ["fuzz requests", String(figures.fuzzRequests)],
        [
          "RSS MiB after warm-up / end / max",
          `${fixed(figures.rssMibAfterWarmup)} / ${fixed(figures.rssMibEnd)} / ${
            fixed(figures.rssMibMax)
          }`,
        ],
        [
          `RSS / RssAnon MiB at ${fixed(referenceSeconds, 0)} s and at the end`,
          `${fixed(reference.mib)} / ${fixed(reference.anonMib)} and ${fixed(end.mib)} / ` +
          fixed(end.anonMib),
        ],
        ["RSS end / at reference (target ≤ 1.10)", fixed(figures.endToReference, 3)],
        ["RSS MiB series (t s: MiB)", seriesText(rss, options.seconds)],
        ...Object.entries(figures.counts).map(([kind, n]) => [`  ${kind}`, String(n)] as const),
      ],
      figures: { scenario: "soak", ...figures },
    });
    return figures;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
