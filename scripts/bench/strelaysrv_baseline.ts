/**
 * Baseline for the `forward` scenario: Syncthing's relay server (`strelaysrv`, Debian package
 * `syncthing-relaysrv`) relaying a raw byte stream between two of its protocol clients on
 * loopback, in MB/s. It never joins the public pool (`-pools=""`, `-nat=false`).
 *
 * Relay protocol v1: client A joins the relay over TLS (ALPN `bep-relay`, a client certificate
 * whose SHA-256 is its device id); client B asks for a session with A (ConnectRequest); both get
 * a SessionInvitation with a key, open plain TCP connections to the relay, send
 * JoinSessionRequest with the key, and from then on every byte B writes reaches A.
 *
 * Usage: deno run -A scripts/bench/strelaysrv_baseline.ts [--mib 256] [--json]
 *
 * @module
 */
import { freePort } from "../relay_process.ts";
import { baselineArgs, fixed, report, stopBaseline } from "./_load.ts";

const MAGIC = 0x9e79bc40;
const TYPE = {
  joinRelayRequest: 2,
  joinSessionRequest: 3,
  response: 4,
  connectRequest: 5,
  sessionInvitation: 6,
} as const;
const CHUNK = 64 * 1024;

/** An XDR variable-length opaque: length, bytes, zero padding to a multiple of 4. */
function opaque(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(4 + Math.ceil(bytes.length / 4) * 4);
  new DataView(padded.buffer).setUint32(0, bytes.length);
  padded.set(bytes, 4);
  return padded;
}

function message(type: number, payload: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setInt32(4, type);
  view.setInt32(8, payload.length);
  out.set(payload, 12);
  return out;
}

/** Reads exact byte counts from a connection. */
class Reader {
  #buffer = new Uint8Array(0);

  constructor(private readonly conn: Deno.Conn) {}

  async exactly(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) {
      const chunk = new Uint8Array(CHUNK);
      const read = await this.conn.read(chunk);
      if (read === null) throw new Error("strelaysrv closed the connection");
      const joined = new Uint8Array(this.#buffer.length + read);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, read), this.#buffer.length);
      this.#buffer = joined;
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  async message(): Promise<{ type: number; payload: DataView; bytes: Uint8Array }> {
    const header = new DataView((await this.exactly(12)).buffer);
    if (header.getUint32(0) !== MAGIC) throw new Error("strelaysrv sent a bad magic");
    const bytes = await this.exactly(header.getInt32(8));
    return { type: header.getInt32(4), payload: new DataView(bytes.buffer), bytes };
  }
}

function expectSuccess(
  reply: { type: number; payload: DataView; bytes: Uint8Array },
  what: string,
) {
  if (reply.type !== TYPE.response || reply.payload.getInt32(0) !== 0) {
    throw new Error(`strelaysrv refused ${what}: message type ${reply.type}`);
  }
}

/** The session key and port of a SessionInvitation. */
function parseInvitation(bytes: Uint8Array): { key: Uint8Array; port: number } {
  const view = new DataView(bytes.buffer);
  let offset = 0;
  const field = () => {
    const length = view.getUint32(offset);
    const value = bytes.slice(offset + 4, offset + 4 + length);
    offset += 4 + Math.ceil(length / 4) * 4;
    return value;
  };
  field(); // from
  const key = field();
  field(); // address: empty means the relay's own address
  return { key, port: view.getUint32(offset) & 0xffff };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

async function certificate(dir: string, name: string, ip = false) {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    // An end-entity certificate that is its own trust anchor: rustls refuses a CA as a leaf.
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "extendedKeyUsage=serverAuth,clientAuth",
    ...(ip ? ["-addext", "subjectAltName=IP:127.0.0.1"] : []),
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}-cert.pem`,
  ], dir);
  const cert = Deno.readTextFileSync(`${dir}/${name}-cert.pem`);
  const key = Deno.readTextFileSync(`${dir}/${name}-key.pem`);
  const der = Uint8Array.fromBase64(cert.replace(/-----[^-]+-----|\s/g, ""));
  const deviceId = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return { cert, key, deviceId };
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The baseline's figures. */
export interface StrelaysrvFigures {
  readonly mib: number;
  readonly mbPerSecond: number;
}

/** Starts strelaysrv, relays `mib` MiB from B to A through one session, stops it. */
export async function strelaysrvBaseline(
  options: { mib: number },
): Promise<StrelaysrvFigures> {
  const dir = Deno.makeTempDirSync({ prefix: "vaultmesh-strelaysrv-" });
  const conns: Deno.Conn[] = [];
  let child: Deno.ChildProcess | undefined;
  try {
    const relayCert = await certificate(dir, "relay", true);
    Deno.mkdirSync(`${dir}/keys`);
    Deno.writeTextFileSync(`${dir}/keys/cert.pem`, relayCert.cert);
    Deno.writeTextFileSync(`${dir}/keys/key.pem`, relayCert.key);
    const a = await certificate(dir, "a");
    const b = await certificate(dir, "b");
    const port = freePort();
    child = new Deno.Command("strelaysrv", {
      args: [
        "-listen",
        `127.0.0.1:${port}`,
        "-status-srv",
        `127.0.0.1:${freePort()}`,
        "-pools=",
        "-nat=false",
        "-keys",
        `${dir}/keys`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port);
    const tls = (client: { cert: string; key: string }) =>
      Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [relayCert.cert],
        cert: client.cert,
        key: client.key,
        alpnProtocols: ["bep-relay"],
      });

    const protocolA = await tls(a);
    conns.push(protocolA);
    const readerA = new Reader(protocolA);
    await protocolA.write(message(TYPE.joinRelayRequest));
    expectSuccess(await readerA.message(), "JoinRelayRequest");

    const protocolB = await tls(b);
    conns.push(protocolB);
    await protocolB.write(message(TYPE.connectRequest, opaque(a.deviceId)));
    const invitationB = await new Reader(protocolB).message();
    if (invitationB.type !== TYPE.sessionInvitation) {
      throw new Error(`ConnectRequest answered with message type ${invitationB.type}`);
    }
    const invitationA = await readerA.message();
    if (invitationA.type !== TYPE.sessionInvitation) {
      throw new Error(`A got message type ${invitationA.type} instead of an invitation`);
    }

    const join = async (invitation: Uint8Array) => {
      const { key, port: sessionPort } = parseInvitation(invitation);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: sessionPort || port });
      conns.push(conn);
      const reader = new Reader(conn);
      await conn.write(message(TYPE.joinSessionRequest, opaque(key)));
      expectSuccess(await reader.message(), "JoinSessionRequest");
      return { conn, reader };
    };
    const sessionA = await join(invitationA.bytes);
    const sessionB = await join(invitationB.bytes);

    const total = options.mib * 1024 * 1024;
    const chunk = new Uint8Array(CHUNK).fill(7);
    const started = performance.now();
    const receiving = (async () => {
      let received = 0;
      const buffer = new Uint8Array(CHUNK);
      while (received < total) {
        const read = await sessionA.conn.read(buffer);
        if (read === null) throw new Error(`The session closed after ${received} bytes`);
        received += read;
      }
    })();
    for (let sent = 0; sent < total; sent += CHUNK) {
      let offset = 0;
      while (offset < CHUNK) offset += await sessionB.conn.write(chunk.subarray(offset));
    }
    await receiving;
    const seconds = (performance.now() - started) / 1000;
    return { mib: options.mib, mbPerSecond: total / 1e6 / seconds };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await stopBaseline(child, dir);
  }
}

if (import.meta.main) {
  const options = baselineArgs("mib", 256);
  const figures = await strelaysrvBaseline({ mib: options.value });
  report({
    title: `strelaysrv: one relayed session, ${figures.mib} MiB raw byte stream on loopback`,
    json: options.json,
    rows: [["MB/s", fixed(figures.mbPerSecond)]],
    figures: { scenario: "strelaysrv_baseline", ...figures },
  });
}
