import assert from "node:assert/strict";
import { PROTOCOL_HEADER, type RequestContext, Router, type RouterHooks } from "./router.ts";
import { jsonResponse } from "./errors.ts";
import { ProtocolError } from "../protocol/errors.ts";

const INFO: Deno.ServeHandlerInfo<Deno.NetAddr> = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
};

const V3 = { [PROTOCOL_HEADER]: "3" };

function request(method: string, path: string, headers: Record<string, string> = V3): Request {
  return new Request(`http://relay.test${path}`, { method, headers });
}

/** A router with a few routes that echo what they were given. */
function router(hooks: RouterHooks = {}): Router {
  return new Router(hooks)
    .add("GET", "/health", () => jsonResponse({ ok: true }))
    .add("GET", "/v3/vaults/:vault/envelopes", ({ params }) => jsonResponse({ params }))
    .add(
      "POST",
      "/v3/vaults/:vault/envelopes",
      () => jsonResponse({ posted: true }, { status: 201 }),
    )
    .add("PUT", "/v3/vaults/:vault/devices/:device", ({ params }) => jsonResponse({ params }))
    .add("GET", "/cached", () => new Response("x", { headers: { "cache-control": "max-age=60" } }))
    .add("GET", "/refuse", () => {
      throw new ProtocolError("rate_limited", "Slow down", {
        retryAfter: 7,
        details: { scope: "vault" },
        headers: { "x-extra": "yes" },
      });
    })
    .add("GET", "/crash", () => {
      throw new Error("secret database path /var/lib/relay.db");
    });
}

function assertStandardHeaders(response: Response): void {
  assert.equal(response.headers.get(PROTOCOL_HEADER), "3");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.equal(
    response.headers.get("access-control-expose-headers"),
    "retry-after, x-vaultmesh-protocol, x-vaultmesh-shard, " +
      "x-vaultmesh-acked, x-vaultmesh-latest-seq, x-vaultmesh-more",
  );
}

Deno.test("router names the shard in X-VaultMesh-Shard on answers and refusals alike", async () => {
  const named = new Router({}, { shardName: "relay-2" })
    .add("GET", "/health", () => jsonResponse({ ok: true }));
  for (const path of ["/health", "/nowhere", "/v3/vaults/abc/envelopes"]) {
    const response = await named.handle(request("GET", path), INFO);
    await response.body?.cancel();
    assert.equal(response.headers.get("x-vaultmesh-shard"), "relay-2", path);
  }
  const unnamed = await router().handle(request("GET", "/health"), INFO);
  await unnamed.body?.cancel();
  assert.equal(unnamed.headers.get("x-vaultmesh-shard"), null);
});

Deno.test("router calls the handler of the matching route with its path parameters", async () => {
  let seen: RequestContext | undefined;
  const routes = new Router().add("PUT", "/v3/vaults/:vault/devices/:device", (context) => {
    seen = context;
    return new Response(null, { status: 204 });
  });
  const sent = request("PUT", "/v3/vaults/abc/devices/phone?x=1");
  const response = await routes.handle(sent, INFO);
  assert.equal(response.status, 204);
  assert.deepEqual(seen?.params, { vault: "abc", device: "phone" });
  assert.equal(seen?.request, sent);
  assert.equal(seen?.url.searchParams.get("x"), "1");
  assert.equal(seen?.info, INFO);
});

Deno.test("router picks the route by method among routes of the same path", async () => {
  const routes = router();
  const got = await routes.handle(request("GET", "/v3/vaults/abc/envelopes"), INFO);
  assert.deepEqual(await got.json(), { params: { vault: "abc" } });
  const posted = await routes.handle(request("POST", "/v3/vaults/abc/envelopes"), INFO);
  assert.equal(posted.status, 201);
  assert.deepEqual(await posted.json(), { posted: true });
});

Deno.test("router answers HEAD with the GET route", async () => {
  const response = await router().handle(request("HEAD", "/health", {}), INFO);
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("router answers 404 not_found for an unknown path or an empty parameter", async () => {
  for (const path of ["/nope", "/health/", "/v3/vaults//envelopes", "/v3/vaults/abc"]) {
    const response = await router().handle(request("GET", path), INFO);
    assert.equal(response.status, 404, path);
    const body = await response.json();
    assert.equal(body.error, "not_found");
    assert.match(body.message, new RegExp(`^No such endpoint: GET ${path}$`));
    assertStandardHeaders(response);
  }
});

Deno.test("router answers 405 method_not_allowed with the allowed methods", async () => {
  const response = await router().handle(request("DELETE", "/v3/vaults/abc/envelopes"), INFO);
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "GET, POST, OPTIONS");
  const body = await response.json();
  assert.equal(body.error, "method_not_allowed");
  assert.match(body.message, /use GET or POST/);
});

Deno.test("router answers a CORS preflight without the protocol header", async () => {
  const response = await router().handle(
    request("OPTIONS", "/v3/vaults/abc/envelopes", { origin: "https://app.example" }),
    INFO,
  );
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-methods"), "GET, POST, OPTIONS");
  assert.match(response.headers.get("access-control-allow-headers")!, /signature-input/);
  assert.match(response.headers.get("access-control-allow-headers")!, /x-vaultmesh-protocol/);
  assert.equal(response.headers.get("access-control-max-age"), "86400");
  assertStandardHeaders(response);
  const unknown = await router().handle(request("OPTIONS", "/nope", {}), INFO);
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("router answers 426 protocol_mismatch under /v3/ without protocol 3", async () => {
  for (const headers of [{}, { [PROTOCOL_HEADER]: "2" }]) {
    const response = await router().handle(
      request("GET", "/v3/vaults/abc/envelopes", headers),
      INFO,
    );
    assert.equal(response.status, 426);
    assert.equal(response.headers.get("upgrade"), "vaultmesh/3");
    const body = await response.json();
    assert.equal(body.error, "protocol_mismatch");
    assert.equal(body.supported, 3);
    assert.match(body.message, PROTOCOL_HEADER in headers ? /\(got "2"\)/ : /\(got none\)/);
  }
  const unknown = await router().handle(request("GET", "/v3/nope", {}), INFO);
  assert.equal(unknown.status, 426, "the protocol gate comes before routing");
  await unknown.body?.cancel();
  const health = await router().handle(request("GET", "/health", {}), INFO);
  assert.equal(health.status, 200, "paths outside /v3/ need no header");
  await health.body?.cancel();
});

Deno.test("router accepts the protocol as a WebSocket subprotocol", async () => {
  const response = await router().handle(
    request("GET", "/v3/vaults/abc/envelopes", { "sec-websocket-protocol": "chat, vaultmesh.3" }),
    INFO,
  );
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("router puts the standard headers on every response", async () => {
  const routes = router();
  for (const path of ["/health", "/refuse", "/crash", "/nope"]) {
    const response = await routes.handle(request("GET", path), INFO);
    assertStandardHeaders(response);
    assert.equal(response.headers.get("cache-control"), "no-store", path);
    await response.body?.cancel();
  }
  const cached = await routes.handle(request("GET", "/cached"), INFO);
  assertStandardHeaders(cached);
  assert.equal(cached.headers.get("cache-control"), "max-age=60", "a handler's choice is kept");
  await cached.body?.cancel();
});

Deno.test("router turns a thrown ProtocolError into its JSON error", async () => {
  const response = await router().handle(request("GET", "/refuse"), INFO);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "7");
  assert.equal(response.headers.get("x-extra"), "yes");
  assert.match(response.headers.get("content-type")!, /^application\/json/);
  assert.deepEqual(await response.json(), {
    error: "rate_limited",
    message: "Slow down",
    scope: "vault",
  });
});

Deno.test("router answers an unexpected error with 500 internal and no detail of it", async () => {
  const response = await router().handle(request("GET", "/crash"), INFO);
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.equal(JSON.parse(text).error, "internal");
  assert.doesNotMatch(text, /secret|relay\.db/);
});

Deno.test("router releases an admitted request exactly once, whatever the answer", async () => {
  for (
    const [method, path] of [
      ["GET", "/health"],
      ["GET", "/refuse"],
      ["GET", "/crash"],
      [
        "GET",
        "/nope",
      ],
      ["DELETE", "/health"],
      ["OPTIONS", "/health"],
    ] as const
  ) {
    let admitted = 0;
    let released = 0;
    const routes = router({
      admit: (admittedRequest, info) => {
        assert.equal(admittedRequest.url, `http://relay.test${path}`);
        assert.equal(info, INFO);
        admitted++;
        return () => released++;
      },
    });
    const response = await routes.handle(request(method, path), INFO);
    await response.body?.cancel();
    assert.equal(admitted, 1, `${method} ${path}`);
    assert.equal(released, 1, `${method} ${path}`);
  }
  let released = 0;
  const unversioned = router({ admit: () => () => released++ });
  await (await unversioned.handle(request("GET", "/v3/vaults/a/envelopes", {}), INFO)).text();
  assert.equal(released, 1, "a 426 is released too");
});

Deno.test("router answers a refused admission with its error and runs no handler", async () => {
  let handled = false;
  const routes = new Router({
    admit: () => {
      throw new ProtocolError("busy", "Busy", { retryAfter: 1 });
    },
  }).add("GET", "/health", () => {
    handled = true;
    return new Response("ok");
  });
  const response = await routes.handle(request("GET", "/health"), INFO);
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assertStandardHeaders(response);
  await response.body?.cancel();
  assert.equal(handled, false);
});

Deno.test("router tells its observer the route pattern and status of each answer", async () => {
  const observed: string[] = [];
  const routes = router({ observe: (route, status) => observed.push(`${route} ${status}`) });
  for (const path of ["/v3/vaults/abc/envelopes", "/nope", "/crash"]) {
    await (await routes.handle(request("GET", path), INFO)).body?.cancel();
  }
  assert.deepEqual(observed, [
    "/v3/vaults/:vault/envelopes 200",
    "unmatched 404",
    "/crash 500",
  ]);
});

Deno.test("router asks the client to close when it refuses a request whose body it did not read", async () => {
  const readsBody = new Router()
    .add("POST", "/read-then-refuse", async ({ request }) => {
      await request.arrayBuffer();
      throw new ProtocolError("bad_json", "Expected an object");
    });
  const post = (path: string) =>
    new Request(`http://relay.test${path}`, {
      method: "POST",
      headers: { ...V3, "content-length": "10" },
      body: "0123456789",
    });
  const unread = await router().handle(post("/nowhere"), INFO);
  assert.equal(unread.status, 404);
  assert.equal(unread.headers.get("connection"), "close", "a refused, unread body");
  const read = await readsBody.handle(post("/read-then-refuse"), INFO);
  assert.equal(read.status, 400);
  assert.equal(read.headers.get("connection"), null, "the body was read whole");
  const bodiless = await router().handle(request("DELETE", "/nowhere"), INFO);
  assert.equal(bodiless.headers.get("connection"), null, "no body at all");
});
