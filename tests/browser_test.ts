import assert from "node:assert/strict";
import type { ReceivedEnvelope } from "../lib/client/mod.ts";
import { vaultKeysFromSeed } from "../lib/client/mod.ts";
import { CHROMIUM, NO_CHROMIUM, spawnChromium } from "./_chromium.ts";
import { bytes, startRelay, tempDir, text, vaultDevices } from "./_helpers.ts";

/**
 * The page a browser client would run: WebCrypto Ed25519 only, no library. It imports the
 * vault key from a seed, opens the socket with the vaultmesh.3 subprotocol (a browser cannot
 * set headers), answers the challenge, sends one envelope, waits for one, and reports.
 */
const PAGE =
  `<!doctype html><meta charset="utf-8"><title>browser client</title><script type="module">
const params = new URLSearchParams(location.search);
const relay = new URL(params.get("relay"));
const seed = Uint8Array.fromBase64(params.get("seed"), { alphabet: "base64url" });
const report = (result) => fetch("/result", { method: "POST", body: JSON.stringify(result) });
try {
  const pkcs8 = new Uint8Array([0x30,0x2e,0x02,0x01,0x00,0x30,0x05,0x06,0x03,0x2b,0x65,0x70,0x04,0x22,0x04,0x20, ...seed]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const vault = (await crypto.subtle.exportKey("jwk", privateKey)).x;
  const ws = new WebSocket(\`ws://\${relay.host}/v3/vaults/\${vault}/socket?device=browser\`, ["vaultmesh.3"]);
  ws.binaryType = "arraybuffer";
  ws.onmessage = async (event) => {
    if (event.data instanceof ArrayBuffer) {
      const frame = new Uint8Array(event.data);
      const fromLength = frame[9];
      const from = new TextDecoder().decode(frame.subarray(10, 10 + fromLength));
      const toLength = frame[10 + fromLength];
      const body = new TextDecoder().decode(frame.subarray(10 + fromLength + 1 + toLength + 8));
      await report({ ok: true, protocol: ws.protocol, received: { from, body } });
      ws.close(1000);
      return;
    }
    const message = JSON.parse(event.data);
    if (message.type === "challenge") {
      const signed = new TextEncoder().encode(["vaultmesh-relay-socket-v3", relay.host, message.challenge, vault, "browser"].join("\\n"));
      const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, signed));
      ws.send(JSON.stringify({ type: "auth", signature: signature.toBase64() }));
    } else if (message.type === "ready") {
      const body = new TextEncoder().encode("hello from chromium");
      ws.send(new Uint8Array([2, 0, 0, 0, 1, 0, 0, ...body]));
    } else if (message.type === "error") {
      await report({ ok: false, error: message });
    }
  };
  ws.onclose = (event) => { if (event.code !== 1000) report({ ok: false, close: event.code }); };
} catch (error) {
  await report({ ok: false, error: String(error) });
}
</script>`;

Deno.test({
  name: "a browser completes the socket challenge with WebCrypto and exchanges envelopes" +
    (CHROMIUM ? "" : NO_CHROMIUM),
  ignore: CHROMIUM === undefined,
  fn: async () => {
    using dir = tempDir();
    await using relay = await startRelay(dir.path);
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const keys = await vaultKeysFromSeed(seed);
    const [node] = await vaultDevices(relay.url, ["node"], { keys });
    const received: ReceivedEnvelope[] = [];
    const nodeSocket = await node!.connect({ onEnvelope: (envelope) => received.push(envelope) });

    const result = Promise.withResolvers<Record<string, unknown>>();
    await using pageServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        if (request.method === "POST") {
          result.resolve(await request.json());
          return new Response("ok");
        }
        return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
      },
    );
    const pageUrl = new URL(`http://127.0.0.1:${pageServer.addr.port}/`);
    pageUrl.searchParams.set("relay", relay.url);
    pageUrl.searchParams.set("seed", seed.toBase64({ alphabet: "base64url", omitPadding: true }));

    // The browser's envelope arrives at the node; the node then answers the browser.
    const browser = spawnChromium(pageUrl.href, `${dir.path}/profile`);
    try {
      const deadline = Date.now() + 30_000;
      while (received.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(received.map((e) => [e.from, text(e.body)]), [[
        "browser",
        "hello from chromium",
      ]]);
      await nodeSocket.send(bytes("hello back"), { to: "browser" });
      const timeout = setTimeout(
        () => result.reject(new Error("no result from the browser in 30 s")),
        30_000,
      );
      const report = await result.promise.finally(() => clearTimeout(timeout));
      assert.deepEqual(report, {
        ok: true,
        protocol: "vaultmesh.3",
        received: { from: "node", body: "hello back" },
      });
    } finally {
      browser.kill("SIGKILL");
      await browser.status;
      await nodeSocket.close();
    }
  },
});
