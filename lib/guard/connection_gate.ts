/**
 * The connection gate: the relay's own TCP accept loop in front of `Deno.serve`, because
 * `Deno.serve` offers no hook on connections (no header timeout, no idle timeout, no connection
 * budget) and dies when `accept` fails with "too many open files".
 *
 * - The accept loop survives descriptor errors: it shrinks the budget below what is in use and
 *   drops connections to get under it.
 * - A descriptor budget: a connection still sending its request head costs 1 descriptor, and so
 *   does a socket the gate speaks itself; once handed to `Deno.serve` (over loopback) it costs 3.
 *   At the budget a connection is dropped to
 *   let a new one in: one of the address holding the most if it holds more than the newcomer's,
 *   else one without a complete request head or an unauthenticated socket of the most crowded
 *   address (see `ConnectionTable.victim`), so a fresh honest client gets in.
 * - A head deadline: a connection that has not sent a complete request head within it is closed;
 *   after each answer an idle keep-alive connection gets the same deadline for its next request.
 * - A WebSocket upgrade that opens a connection is answered by the gate itself, which then speaks
 *   WebSocket on the client's connection (`raw_websocket.ts`): no loopback hop, no HTTP server
 *   connection, and a frame's length is checked before its payload is read. An upgrade after
 *   other requests on a connection goes through `Deno.serve` like any request.
 * - With `answerPlainRequests` (a small memory limit), plain HTTP/1.1 requests are answered on
 *   the client's connection too (`plain_request.ts`), one after another while they stay plain;
 *   the first that is not goes to `Deno.serve` with the rest of the connection. A shutdown waits
 *   for the answers in flight, and a request without a body whose client leaves is aborted (a
 *   long poll ends).
 * - A socket the relay closed is torn down at the TCP level if its peer ignores the close.
 * - A socket's owner learns when its client reads nothing (`clientBlocked`): the loopback hop's
 *   kernel buffers would otherwise take megabytes for it before its own queue grew.
 * - An answer with `Connection: close` (an error to a request whose body was not read whole)
 *   closes its connection shortly after, and nothing more the client sends is passed on, so a
 *   refused body is never read on.
 * - A first request head the relay can refuse at once (`refuseHead`: a body its memory budget
 *   cannot hold) is answered by the gate itself, so a flood of such requests costs no HTTP
 *   server connections.
 * - Both hops send without delay (`TCP_NODELAY`), as `Deno.serve` does on its own sockets: the
 *   pumps write what they read at once, and Nagle's algorithm would hold a request's or answer's
 *   last segment until the peer's delayed acknowledgement (40 ms on Linux).
 * Handlers see the client's own address in `info.remoteAddr`, not the loopback hop.
 *
 * @module
 */
import { isOutOfDescriptors, pump, PumpBuffers, readHead, type WriteWatch } from "./tcp_proxy.ts";
import { NO_LIFECYCLE, type SocketLifecycle, type UpgradedSocket } from "./socket_lifecycle.ts";
import {
  acceptKey,
  type RawSocketLimits,
  RawWebSocket,
  type SocketRefusal,
} from "./raw_websocket.ts";
import {
  closingAnswer,
  readUpgradeRequest,
  switchingProtocols,
  type UpgradeRequest,
} from "./upgrade_head.ts";
import { answerBytes, type PlainHead, readPlainHead } from "./plain_request.ts";
import { addressKey } from "./client_address.ts";
import { ConnectionTable } from "./connection_table.ts";

/** What the gate enforces. */
export interface GateLimits {
  /** Descriptors client connections may hold. */
  readonly fdBudget: number;
  /** Time to send a complete request head (and, when idle, the next one). */
  readonly headerTimeoutMs: number;
  /** Largest request head; beyond it the connection gets 431 and is closed. */
  readonly maxHeadBytes: number;
  /** Bytes the copy buffers of every connection may grow by, together. */
  readonly pumpBufferBytes: number;
  /** Answer plain requests on the client's connection (`plain_request.ts`) instead of passing
   * them to `Deno.serve`: less memory, more time per request. */
  readonly answerPlainRequests?: boolean;
  /** Time from a refusal's answer (`Connection: close`) to closing its connection. */
  readonly closeAfterRefusalMs: number;
  /** Time a socket's peer has to complete a close the relay started. */
  readonly socketTeardownMs: number;
  /** What a client can make a socket the gate speaks itself hold. */
  readonly socket: RawSocketLimits;
}

/** What the gate holds now. */
export interface GateStats {
  readonly connections: number;
  readonly fds: number;
  readonly budget: number;
  /** Bytes copy buffers have grown by (at most `pumpBufferBytes`). */
  readonly bufferBytes: number;
}

/** What the gate did to a connection, for metrics. */
export type GateEvent =
  | "header_timeout"
  | "evicted"
  | "refused"
  | "torn_down"
  | "accept_error"
  | SocketRefusal;

/** Options of {@linkcode ConnectionGate.start}. */
export interface GateOptions {
  readonly hostname: string;
  readonly port: number;
  /** Connections queued by the kernel until accepted, on the public and the inner listener. */
  readonly backlog: number;
  readonly limits: GateLimits;
  /** Answers requests, as for `Deno.serve`. */
  readonly handler: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>;
  readonly onEvent?: (event: GateEvent) => void;
  /**
   * The answer to a request head that can be refused before the HTTP server sees it (the raw
   * bytes of an HTTP/1.1 answer with `Connection: close`), or undefined to hand it over.
   */
  readonly refuseHead?: (head: Uint8Array) => Uint8Array | undefined;
}

/** How often head deadlines are checked, and the least budget a descriptor error shrinks to. */
const SWEEP_MS = 250;
const MIN_BUDGET = 16;
/**
 * The first read for the next request on a connection the gate answers: a signed 1 KiB send
 * (head and body, about 1.8 KB) in one read, where 1 KiB took two and a copy. A new connection's
 * first read stays at 1 KiB: thousands of idle connections hold it while they wait.
 */
const NEXT_HEAD_READ_BYTES = 4096;
/**
 * A write to the client waiting this long means the client is not reading: the kernel's buffers
 * toward it are full (a slow link that reads at all completes a write sooner, a little at a time).
 */
const CLIENT_BLOCKED_MS = 100;

/** One client connection. */
class Connection {
  inFlight = 0;
  socket: "none" | "unauthenticated" | "authenticated" = "none";
  deadline = 0;
  upstream: Deno.TcpConn | undefined;
  closed = false;
  /** Set once an answer said `Connection: close`: nothing more the client sends is passed on. */
  ending = false;
  /** Set once a refusal was answered: closes the connection soon after. */
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The client's address as per-address limits count it (an IPv6 /64 is one). */
  readonly address: string;
  /** The copy to the client: a write waiting for room means the client reads nothing. */
  readonly toClient: WriteWatch = { waitingSince: undefined };

  constructor(readonly outer: Deno.TcpConn) {
    this.address = addressKey((outer.remoteAddr as Deno.NetAddr).hostname);
  }
}

/** Reads the bytes that follow an answered request; undefined if the client left. */
type NextRequest = () => Promise<Uint8Array | undefined>;

/** A socket upgrade the gate answers itself, while the handler runs. */
interface PendingUpgrade {
  readonly connection: Connection;
  readonly rest: Uint8Array;
  /** Set when the handler upgraded the request. */
  accepted?: { readonly socket: RawWebSocket; readonly protocol: string | undefined };
}

/** The answer for a socket the gate upgrades; the gate writes the real `101` itself. */
class SwitchingProtocols extends Response {
  override get status(): number {
    return 101;
  }
}

/** The relay's listener: accepts, bounds and hands over client connections. */
export class ConnectionGate {
  readonly #options: GateOptions;
  readonly #listener: Deno.TcpListener;
  #inner!: Deno.HttpServer<Deno.NetAddr>;
  readonly #table = new ConnectionTable<Connection>();
  readonly #buffers: PumpBuffers;
  readonly #byInnerPort = new Map<number, Connection>();
  readonly #byRequest = new WeakMap<Request, Connection>();
  readonly #upgrades = new WeakMap<Request, PendingUpgrade>();
  /** Plain requests being answered by the gate itself; a shutdown waits for them. */
  readonly #answering = new Set<Promise<unknown>>();
  #fds = 0;
  #budget: number;
  #stopping = false;
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;

  private constructor(options: GateOptions) {
    this.#options = options;
    this.#budget = options.limits.fdBudget;
    this.#buffers = new PumpBuffers(options.limits.pumpBufferBytes);
    this.#listener = Deno.listen({
      hostname: options.hostname,
      port: options.port,
      tcpBacklog: options.backlog,
    });
    this.#startInner();
    this.#sweep = setInterval(() => this.#expire(), SWEEP_MS);
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Listens on `hostname:port` and serves `handler` behind the gate.
   *
   * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`.
   */
  static start(options: GateOptions): ConnectionGate {
    return new ConnectionGate(options);
  }

  /** The public address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Client connections open, descriptors they hold, the budget in force, copy buffer bytes. */
  get stats(): GateStats {
    return {
      connections: this.#table.size,
      fds: this.#fds,
      budget: this.#budget,
      bufferBytes: this.#buffers.used,
    };
  }

  /**
   * Upgrades `request` to a WebSocket the gate speaks itself, when the gate is answering it (the
   * first request of a connection); undefined when it came through the HTTP server.
   */
  upgradeSocket(request: Request, protocol: string | undefined): UpgradedSocket | undefined {
    const pending = this.#upgrades.get(request);
    if (!pending) return undefined;
    const { connection } = pending;
    const socket = new RawWebSocket(connection.outer, {
      limits: this.#options.limits.socket,
      pool: this.#buffers,
      watch: connection.toClient,
      leftover: pending.rest,
      onEnd: () => this.#close(connection),
      ...(this.#options.onEvent ? { onRefused: this.#options.onEvent } : {}),
    });
    pending.accepted = { socket, protocol };
    return {
      socket,
      response: new SwitchingProtocols(null),
      lifecycle: this.#lifecycle(connection, socket),
    };
  }

  /** Registers the socket `Deno.serve` upgraded from `request`; its owner reports on it. */
  socketOf(request: Request): SocketLifecycle {
    const connection = this.#byRequest.get(request);
    return connection ? this.#lifecycle(connection) : NO_LIFECYCLE;
  }

  #lifecycle(connection: Connection, socket?: RawWebSocket): SocketLifecycle {
    connection.socket = "unauthenticated";
    this.#table.waiting.delete(connection);
    this.#table.unauthenticated.add(connection);
    const { socketTeardownMs } = this.#options.limits;
    return {
      authenticated: () => {
        connection.socket = "authenticated";
        this.#table.unauthenticated.delete(connection);
        socket?.authenticated();
      },
      closed: (now = false) => {
        this.#table.unauthenticated.delete(connection);
        setTimeout(() => this.#tearDown(connection), now ? 0 : socketTeardownMs);
      },
      clientBlocked: () => {
        const since = connection.toClient.waitingSince;
        return since !== undefined && Date.now() - since >= CLIENT_BLOCKED_MS;
      },
    };
  }

  #tearDown(connection: Connection): void {
    if (connection.closed) return;
    this.#options.onEvent?.("torn_down");
    this.#close(connection);
  }

  /** Stops accepting, lets requests in flight finish, then closes every connection. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweep);
    this.#listener.close();
    await this.#accepting;
    await Promise.all([this.#inner.shutdown(), ...this.#answering]);
    for (const connection of this.#table.all()) this.#close(connection);
  }

  #startInner(): void {
    if (this.#stopping) return;
    try {
      this.#inner = Deno.serve(
        { hostname: "127.0.0.1", port: 0, tcpBacklog: this.#options.backlog, onListen: () => {} },
        (request, info) => this.#handle(request, info),
      );
    } catch (error) {
      if (!isOutOfDescriptors(error)) throw error;
      setTimeout(() => this.#startInner(), 100);
      return;
    }
    // Deno.serve's own accept loop ends on a descriptor error: shrink and start another.
    this.#inner.finished.catch(() => {
      this.#shrinkBudget();
      this.#startInner();
    });
  }

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    const connection = this.#byInnerPort.get(info.remoteAddr.port);
    if (!connection) return new Response(null, { status: 421 });
    connection.inFlight++;
    this.#table.waiting.delete(connection);
    this.#byRequest.set(request, connection);
    info.completed.catch(() => {}).finally(() => {
      connection.inFlight--;
      if (connection.inFlight === 0 && connection.socket === "none") this.#wait(connection);
    });
    const remoteAddr = connection.outer.remoteAddr as Deno.NetAddr;
    const response = this.#options.handler(request, { remoteAddr, completed: info.completed });
    return response instanceof Promise
      ? response.then((answer) => this.#closingAfter(answer, connection, info))
      : this.#closingAfter(response, connection, info);
  }

  /**
   * An error answer to a request whose body was not read whole says `Connection: close` (the
   * router sets it); the HTTP server would still read (and drop) whatever the client keeps
   * sending, so the connection ends once the answer went out.
   */
  #closingAfter(
    response: Response,
    connection: Connection,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response {
    if (response.headers.get("connection")?.toLowerCase() === "close") {
      connection.ending = true;
      info.completed.catch(() => {}).finally(() => this.#closeSoon(connection));
    }
    return response;
  }

  /**
   * Closes an ending connection `closeAfterRefusalMs` after its answer went out: long enough for
   * the answer to reach the client before the close could reset it.
   */
  #closeSoon(connection: Connection): void {
    if (connection.closed || connection.closeTimer !== undefined) return;
    connection.closeTimer = setTimeout(
      () => this.#close(connection),
      this.#options.limits.closeAfterRefusalMs,
    );
  }

  #wait(connection: Connection): void {
    if (connection.closed) return;
    connection.deadline = Date.now() + this.#options.limits.headerTimeoutMs;
    this.#table.wait(connection);
  }

  #expire(): void {
    const now = Date.now();
    for (const connection of this.#table.waiting) {
      if (connection.deadline > now) break;
      this.#options.onEvent?.("header_timeout");
      this.#close(connection);
    }
  }

  /**
   * Drops connections until `more` descriptors fit for a connection from `address` (`newcomer`:
   * one not yet counted); false when nothing can go. Whom: see `ConnectionTable.victim`.
   */
  #makeRoom(more: number, address: string, newcomer = false): boolean {
    while (this.#fds + more > this.#budget) {
      const victim = this.#table.victim(address, newcomer);
      if (!victim) return false;
      this.#options.onEvent?.("evicted");
      this.#close(victim);
    }
    return true;
  }

  /** The budget was above the real limit: keep below what is in use now. */
  #shrinkBudget(): void {
    this.#budget = Math.max(MIN_BUDGET, Math.floor(this.#fds * 0.9));
    this.#makeRoom(0, "", true);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#stopping) {
      let outer: Deno.TcpConn;
      try {
        outer = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping || error instanceof Deno.errors.BadResource) return;
        this.#options.onEvent?.("accept_error");
        if (isOutOfDescriptors(error)) this.#shrinkBudget();
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      outer.setNoDelay(true);
      const connection = new Connection(outer);
      if (!this.#makeRoom(1, connection.address, true)) {
        this.#options.onEvent?.("refused");
        outer.close();
        continue;
      }
      this.#fds += 1;
      this.#table.add(connection);
      this.#wait(connection);
      void this.#serve(connection);
    }
  }

  #close(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    clearTimeout(connection.closeTimer);
    this.#table.remove(connection);
    try {
      connection.outer.close();
    } catch {
      // Already closed.
    }
    this.#fds -= 1;
    if (connection.upstream) {
      this.#byInnerPort.delete(connection.upstream.localAddr.port);
      try {
        connection.upstream.close();
      } catch {
        // Already closed.
      }
      this.#fds -= 2;
    }
  }

  /**
   * Answers `connection` with `answer` itself and closes it `closeAfterRefusalMs` later, reading
   * nothing more from it: a refusal that costs no HTTP server connection.
   */
  async #refuseAtTheGate(connection: Connection, answer: Uint8Array): Promise<void> {
    connection.ending = true;
    try {
      for (let written = 0; written < answer.length;) {
        written += await connection.outer.write(answer.subarray(written));
      }
    } catch {
      return this.#close(connection);
    }
    this.#closeSoon(connection);
  }

  /**
   * Answers a connection's first request, a WebSocket upgrade, itself: the handler sees it as any
   * request; if it upgrades, the gate writes the handshake and starts the socket on the client's
   * connection, otherwise it writes the answer and closes the connection.
   */
  async #answerUpgrade(connection: Connection, { request, rest }: UpgradeRequest): Promise<void> {
    const pending: PendingUpgrade = { connection, rest };
    this.#upgrades.set(request, pending);
    connection.inFlight++;
    this.#table.waiting.delete(connection);
    const answered = Promise.withResolvers<void>();
    const remoteAddr = connection.outer.remoteAddr as Deno.NetAddr;
    let answer: Uint8Array | undefined;
    try {
      const response = await this.#options.handler(request, {
        remoteAddr,
        completed: answered.promise,
      });
      const key = request.headers.get("sec-websocket-key") ?? "";
      answer = pending.accepted
        ? switchingProtocols(acceptKey(key), pending.accepted.protocol)
        : await closingAnswer(response);
      for (let written = 0; written < answer.length && !connection.closed;) {
        written += await connection.outer.write(answer.subarray(written));
      }
    } catch {
      answer = undefined; // the client left, or the gate closed the connection
    } finally {
      this.#upgrades.delete(request);
      connection.inFlight--;
      answered.resolve();
    }
    const socket = pending.accepted?.socket;
    if (!answer || connection.closed) {
      socket?.close(1001, "");
      return this.#close(connection);
    }
    if (socket) return socket.start();
    connection.ending = true;
    this.#closeSoon(connection);
  }

  /**
   * Reads the first request head; a refusal, a socket upgrade, or (`answerPlainRequests`) a plain
   * request the gate answers itself; anything else goes to `Deno.serve`.
   */
  async #serve(connection: Connection): Promise<void> {
    const head = await readHead(connection.outer, this.#options.limits.maxHeadBytes);
    if (!head || connection.closed) return this.#close(connection);
    const refusal = this.#options.refuseHead?.(head);
    if (refusal) return this.#refuseAtTheGate(connection, refusal);
    const upgrade = readUpgradeRequest(head);
    if (upgrade) return this.#answerUpgrade(connection, upgrade);
    if (this.#options.limits.answerPlainRequests) return this.#answerPlain(connection, head);
    return this.#handOver(connection, head);
  }

  /**
   * Answers plain requests (`plain_request.ts`) one after another on the client's connection,
   * until it ends or a request is not plain: that one, and the rest of the connection, go to
   * `Deno.serve`.
   */
  async #answerPlain(connection: Connection, first: Uint8Array): Promise<void> {
    let bytes: Uint8Array | undefined = first;
    while (bytes && !connection.closed) {
      const head = readPlainHead(bytes);
      if (!head) return this.#handOver(connection, bytes);
      const answering = this.#answerOne(connection, head);
      this.#answering.add(answering);
      const next = await answering.finally(() => this.#answering.delete(answering));
      if (!next || connection.closed || connection.ending || this.#stopping) break;
      bytes = await next();
      if (bytes === undefined) break;
      bytes = await readHead(
        connection.outer,
        this.#options.limits.maxHeadBytes,
        bytes,
        NEXT_HEAD_READ_BYTES,
      );
    }
    if (!connection.ending) this.#close(connection);
  }

  /**
   * Answers one plain request. Resolves once the answer is out with what reads the start of the
   * next request (the bytes after this one, or undefined if the client left), or with undefined
   * when the connection is done.
   */
  async #answerOne(connection: Connection, head: PlainHead): Promise<NextRequest | undefined> {
    connection.inFlight++;
    this.#table.waiting.delete(connection);
    const body = new RequestBody(connection.outer, head);
    // Only a request without a body can wait for its client (a long poll): it alone is watched
    // for the client leaving, and gets a signal that aborts then.
    const abort = head.bodyLength === 0 ? new AbortController() : undefined;
    const answered = Promise.withResolvers<void>();
    const request = new Request(head.url.href, {
      method: head.method,
      headers: head.fields,
      ...(abort ? { signal: abort.signal } : {}),
      ...body.init,
    } as RequestInit);
    const remoteAddr = connection.outer.remoteAddr as Deno.NetAddr;
    try {
      const answer = this.#options.handler(request, { remoteAddr, completed: answered.promise });
      if (abort && await body.raceWithClient(Promise.resolve(answer)) === "gone") {
        abort.abort();
        return undefined;
      }
      const response = await answer;
      const refused = response.headers.get("connection")?.toLowerCase() === "close";
      const close = head.close || refused || !body.whole || this.#stopping;
      const bytes = await answerBytes(response, { method: head.method, close });
      for (let written = 0; written < bytes.length && !connection.closed;) {
        written += await connection.outer.write(bytes.subarray(written));
      }
      if (close) {
        // The rest of an unread body is never read: the connection closes once the answer is out.
        connection.ending = true;
        this.#closeSoon(connection);
        return undefined;
      }
      // Idle until the next request head, which gets the head deadline.
      this.#wait(connection);
      return () => body.after();
    } catch {
      abort?.abort();
      this.#close(connection);
      return undefined;
    } finally {
      connection.inFlight--;
      answered.resolve();
    }
  }

  /** Hands the connection to `Deno.serve` over the loopback hop, starting with `bytes`. */
  async #handOver(connection: Connection, bytes: Uint8Array): Promise<void> {
    if (!this.#makeRoom(2, connection.address) || connection.closed) {
      return this.#close(connection);
    }
    this.#fds += 2;
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#inner.addr.port });
    } catch (error) {
      this.#fds -= 2;
      if (isOutOfDescriptors(error)) this.#shrinkBudget();
      return this.#close(connection);
    }
    if (connection.closed) {
      upstream.close();
      this.#fds -= 2;
      return;
    }
    upstream.setNoDelay(true);
    connection.upstream = upstream;
    this.#byInnerPort.set(upstream.localAddr.port, connection);
    try {
      await upstream.write(bytes);
    } catch {
      return this.#close(connection);
    }
    await Promise.all([
      pump(connection.outer, upstream, this.#buffers, { stopped: () => connection.ending }),
      pump(upstream, connection.outer, this.#buffers, { watch: connection.toClient }),
    ]);
    this.#close(connection);
  }
}

/**
 * A plain request's body, read from the client's connection as the handler reads it, and the
 * watch for a client that leaves while its request is answered (a long poll must end then).
 */
class RequestBody {
  /** Body bytes not yet read from the connection. */
  #left: number;
  /** Bytes read past the body: the start of the next request. */
  #after: Uint8Array;
  #buffered: Uint8Array;
  /** The read that watches the connection once the body is in, and what it got. */
  #watch: { readonly read: Promise<number | null>; readonly buffer: Uint8Array } | undefined;
  /**
   * The `Request`'s body: none, the bytes when the whole body came with the head (nearly every
   * send: they are read off the connection already), else a stream that reads the rest.
   */
  readonly init: Pick<RequestInit, "body"> & { duplex?: "half" };

  constructor(private readonly conn: Deno.TcpConn, head: PlainHead) {
    const inHand = Math.min(head.rest.length, head.bodyLength);
    const buffered = head.rest.slice(0, inHand);
    this.#buffered = buffered;
    this.#after = head.rest.slice(inHand);
    this.#left = head.bodyLength - inHand;
    if (head.bodyLength === 0) {
      this.init = {};
    } else if (this.#left === 0) {
      this.init = { body: buffered };
      this.#buffered = new Uint8Array();
    } else {
      const stream = new ReadableStream<Uint8Array>({
        pull: (controller) => this.#pull(controller),
      }, { highWaterMark: 0 });
      this.init = { body: stream, duplex: "half" };
    }
  }

  /** Whether the whole body was read (the next request can follow on the connection). */
  get whole(): boolean {
    return this.#left === 0 && this.#buffered.length === 0;
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.#buffered.length > 0) {
      controller.enqueue(this.#buffered);
      this.#buffered = new Uint8Array();
    } else {
      const chunk = new Uint8Array(Math.min(this.#left, 64 * 1024));
      const count = await this.conn.read(chunk);
      if (count === null) return controller.error(new Error("The client left mid-body"));
      this.#left -= count;
      controller.enqueue(chunk.subarray(0, count));
    }
    if (this.whole) controller.close();
  }

  /**
   * Waits for the answer to a request without a body, or for the client to leave first ("gone"):
   * the connection is read meanwhile, and what comes is kept as the start of the next request.
   */
  async raceWithClient(answer: Promise<unknown>): Promise<"answered" | "gone"> {
    const answered = answer.then(() => "answered" as const, () => "answered" as const);
    // A next request already here: the client is still there.
    if (this.#after.length > 0) return await answered;
    const buffer = new Uint8Array(4096);
    const read = this.conn.read(buffer).catch(() => null);
    this.#watch = { read, buffer };
    const gone = read.then((count) => count === null ? "gone" as const : undefined);
    return await Promise.race([answered, gone.then((result) => result ?? answered)]);
  }

  /** The bytes after the body (with what the watch read), or undefined if the client left. */
  async after(): Promise<Uint8Array | undefined> {
    if (!this.#watch) return this.#after;
    const count = await this.#watch.read;
    if (count === null) return undefined;
    const more = this.#watch.buffer.subarray(0, count);
    const joined = new Uint8Array(this.#after.length + more.length);
    joined.set(this.#after);
    joined.set(more, this.#after.length);
    return joined;
  }
}
