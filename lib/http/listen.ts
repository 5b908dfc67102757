/**
 * Where HTTP connections come in: through the connection gate (the default, for the open
 * internet), or straight into `Deno.serve` with `--connection-gate off` behind a proxy that
 * bounds connections itself.
 *
 * @module
 */
import {
  ConnectionGate,
  type GateEvent,
  type GateLimits,
  type GateStats,
} from "../guard/connection_gate.ts";
import { NO_LIFECYCLE, type UpgradedSocket } from "../guard/socket_lifecycle.ts";
import { fromWebSocket } from "../live/device_socket.ts";

/** A running HTTP listener. */
export interface HttpListener {
  /** The bound address (with the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /**
   * Upgrades `request` to a WebSocket offering `protocol`: the gate's own when the gate answers
   * the request, otherwise Deno's (with the gate's view of its connection, if there is a gate).
   */
  upgradeSocket(request: Request, protocol: string | undefined): UpgradedSocket;
  /** Client connections and the descriptors they hold, when the gate counts them. */
  stats(): GateStats | undefined;
  /** Stops accepting, finishes requests in flight and closes connections. */
  shutdown(): Promise<void>;
}

/** What {@linkcode listen} needs. */
export interface ListenOptions {
  readonly hostname: string;
  readonly port: number;
  /** Connections queued by the kernel until accepted. */
  readonly backlog: number;
  readonly gate: false | GateLimits;
  readonly handler: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>;
  readonly onGateEvent?: (event: GateEvent) => void;
  /** Refuses a request head at the gate (see `GateOptions.refuseHead`). */
  readonly refuseHead?: (head: Uint8Array) => Uint8Array | undefined;
}

/**
 * Starts listening.
 *
 * @throws {Deno.errors.AddrInUse} and the other errors of binding the address.
 */
export function listen(options: ListenOptions): HttpListener {
  const { hostname, port, backlog, handler, gate } = options;
  if (gate === false) {
    const server = Deno.serve({ hostname, port, tcpBacklog: backlog, onListen: () => {}, handler });
    return {
      addr: server.addr,
      upgradeSocket: (request, protocol) => ({
        ...upgradeWithDeno(request, protocol),
        lifecycle: NO_LIFECYCLE,
      }),
      stats: () => undefined,
      shutdown: () => server.shutdown(),
    };
  }
  const front = ConnectionGate.start({
    hostname,
    port,
    backlog,
    limits: gate,
    handler,
    ...(options.onGateEvent ? { onEvent: options.onGateEvent } : {}),
    ...(options.refuseHead ? { refuseHead: options.refuseHead } : {}),
  });
  return {
    addr: front.addr,
    upgradeSocket: (request, protocol) =>
      front.upgradeSocket(request, protocol) ?? {
        ...upgradeWithDeno(request, protocol),
        lifecycle: front.socketOf(request),
      },
    stats: () => front.stats,
    shutdown: () => front.shutdown(),
  };
}

function upgradeWithDeno(request: Request, protocol: string | undefined) {
  const { socket, response } = Deno.upgradeWebSocket(request, protocol ? { protocol } : {});
  return { socket: fromWebSocket(socket), response };
}
