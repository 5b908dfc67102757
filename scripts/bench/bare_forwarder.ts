/**
 * The floor for the `forward` scenario: a bare `Deno.upgradeWebSocket` forwarder with no
 * authentication, framing, storage or flow control. A socket on `/receive` gets every binary
 * message a socket on `/send` sends, and the sender gets a one-byte text receipt per message
 * (so it can keep the same window as a relay client). Prints `listening <port>` on stdout.
 *
 * @module
 */
let receiver: WebSocket | undefined;
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  if (new URL(request.url).pathname === "/receive") {
    receiver = socket;
  } else {
    socket.onmessage = (event) => {
      receiver?.send(event.data);
      socket.send("k");
    };
  }
  return response;
});
