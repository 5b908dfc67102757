/**
 * The ceiling for HTTP benchmarks: a `Deno.serve` handler that reads the body and answers a
 * small JSON object, doing nothing else. Prints its URL on stdout.
 *
 * @module
 */
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening http://127.0.0.1:${port}`),
}, async (request) => {
  await request.arrayBuffer();
  return Response.json({ seq: 1, stored: true }, { status: 201 });
});
