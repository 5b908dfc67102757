/**
 * The floor for the `connections` scenario: a `Deno.upgradeWebSocket` server that only holds its
 * sockets. Prints `listening <port>` on stdout.
 *
 * @module
 */
const sockets = new Set<WebSocket>();
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 60 });
  sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  return response;
});
