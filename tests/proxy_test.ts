import assert from "node:assert/strict";
import { generateVaultKeys, RelayClient } from "../lib/client/mod.ts";
import { parseTrustedProxies } from "../lib/guard/client_address.ts";
import { freePort, relayCommand } from "../scripts/relay_process.ts";
import { bytes, rawRequest, startRelay, tempDir, text } from "./_helpers.ts";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});
const SKIP = NGINX === undefined ? " (skipped: nginx is not installed; .ci/run installs it)" : "";

const PACKAGED = new URL("../packaging/proxy/", import.meta.url).pathname;

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  assert.ok(output.success, `${command} failed: ${new TextDecoder().decode(output.stderr)}`);
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/**
 * A throwaway CA and a certificate for 127.0.0.1 signed by it (a self-signed leaf would be a CA
 * used as an end entity, which rustls refuses). Returns the CA's PEM for the client to trust.
 */
async function testCertificate(dir: string): Promise<string> {
  const subject = (name: string) => ["-subj", `/CN=${name}`];
  await run("openssl", [
    "req",
    "-x509",
    ...EC_KEY,
    "-days",
    "1",
    ...subject("VaultMesh test CA"),
    "-keyout",
    `${dir}/ca-key.pem`,
    "-out",
    `${dir}/ca.pem`,
  ]);
  await run("openssl", [
    "req",
    ...EC_KEY,
    ...subject("127.0.0.1"),
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/leaf.csr`,
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca-key.pem`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${dir}/leaf.ext`,
    "-out",
    `${dir}/cert.pem`,
  ]);
  return await Deno.readTextFile(`${dir}/ca.pem`);
}

/** The packaged site config, pointed at the test's relay, ports and certificate. */
function siteConfig(dir: string, ports: { https: number; http: number; relay: number }): string {
  return Deno.readTextFileSync(`${PACKAGED}nginx.conf`)
    // The test reaches nginx by IP address, which sends no TLS server name: the packaged
    // default server would refuse that handshake. Its plain-HTTP twin stays and is tested.
    .replace(/server \{\s*listen 443 ssl default_server;[^}]*\}/, "")
    .replaceAll("127.0.0.1:3030", `127.0.0.1:${ports.relay}`)
    .replaceAll(/listen \[::\]:(80|443)( ssl)?( default_server)?;/g, "")
    .replaceAll(/listen 80( default_server)?;/g, `listen 127.0.0.1:${ports.http}$1;`)
    .replaceAll(/listen 443 ssl( default_server)?;/g, `listen 127.0.0.1:${ports.https} ssl$1;`)
    .replaceAll("relay.example.org", "127.0.0.1")
    .replaceAll("/etc/letsencrypt/live/127.0.0.1/fullchain.pem", `${dir}/cert.pem`)
    .replaceAll("/etc/letsencrypt/live/127.0.0.1/privkey.pem", `${dir}/key.pem`)
    .replaceAll(
      "/etc/nginx/vaultmesh_relay_headers.conf",
      `${PACKAGED}vaultmesh_relay_headers.conf`,
    );
}

function mainConfig(dir: string): string {
  return [
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    "events { worker_connections 64; }",
    "http {",
    `  access_log off;`,
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    `  include ${dir}/site.conf;`,
    "}",
  ].join("\n");
}

async function untilUp(url: string, client: Deno.HttpClient): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url, { client });
      await response.body?.cancel();
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  assert.fail(
    `nginx never answered at ${url}: ${(last as Error).message} ${String((last as Error).cause)}`,
  );
}

Deno.test({
  name: "a signed round trip works over HTTPS through the packaged nginx config" + SKIP,
  ignore: NGINX === undefined,
  async fn() {
    using dir = tempDir();
    await Deno.chmod(dir.path, 0o755);
    await using relay = await startRelay(dir.path, {
      trustProxy: parseTrustedProxies("127.0.0.1")!,
    });
    const ports = { https: freePort(), http: freePort(), relay: relay.address.port };
    const pem = await testCertificate(dir.path);
    await Deno.writeTextFile(`${dir.path}/site.conf`, siteConfig(dir.path, ports));
    await Deno.writeTextFile(`${dir.path}/nginx.conf`, mainConfig(dir.path));
    await run(NGINX!, ["-t", "-q", "-c", `${dir.path}/nginx.conf`, "-p", dir.path]);
    const nginx = new Deno.Command(NGINX!, {
      args: ["-c", `${dir.path}/nginx.conf`, "-p", dir.path, "-g", "daemon off;"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    using client = Deno.createHttpClient({ caCerts: [pem] });
    try {
      const base = `https://127.0.0.1:${ports.https}`;
      await untilUp(`${base}/health`, client);
      const health = await fetch(`${base}/health`, { client });
      assert.equal(health.headers.get("x-vaultmesh-protocol"), "3");
      assert.equal((await health.json()).status, "ok");

      const redirect = await fetch(`http://127.0.0.1:${ports.http}/health`, { redirect: "manual" });
      await redirect.body?.cancel();
      assert.equal(redirect.status, 301);
      // Another Host reaches the default server, which closes without an answer.
      const other = await rawRequest(
        `http://127.0.0.1:${ports.http}`,
        "GET /health HTTP/1.1\r\nhost: relay-b.example\r\n\r\n",
      );
      assert.ok(Number.isNaN(other.status), "no answer for a foreign Host");

      const viaProxy: typeof fetch = (input, init) => fetch(input, { ...init, client });
      const keys = await generateVaultKeys();
      const [laptop, phone] = await Promise.all(
        ["laptop", "phone"].map((device) =>
          RelayClient.create({ url: base, keys, device, fetch: viaProxy })
        ),
      );
      const big = new Uint8Array(1024 * 1024).fill(7);
      const { seq } = await laptop!.send(bytes("hello through nginx"));
      await laptop!.send(big);
      const page = await phone!.backlog();
      assert.equal(text(page.envelopes[0]!.body), "hello through nginx");
      assert.equal(page.envelopes[1]!.body.byteLength, big.byteLength, "1 MiB passes the proxy");
      assert.deepEqual(await phone!.ack(page.envelopes[1]!.seq), { acked: seq + 1, deleted: 2 });
      assert.equal(await laptop!.purge(), 0, "every envelope was acknowledged and deleted");

      // nginx replaces a client's X-Forwarded-For, so a spoofed address never reaches the relay.
      const address = await fetch(`${base}/v3/address`, {
        client,
        headers: { "x-vaultmesh-protocol": "3", "x-forwarded-for": "203.0.113.9" },
      });
      assert.equal((await address.json()).address, "127.0.0.1");

      // The check command as an operator runs it: a real process, trusting the test CA, which
      // also opens sockets over WSS through nginx.
      await Deno.writeTextFile(`${dir.path}/ca.pem`, pem);
      const check = await relayCommand(["check", base], { DENO_CERT: `${dir.path}/ca.pem` })
        .output();
      const lines = new TextDecoder().decode(check.stdout).trim().split("\n");
      assert.equal(check.code, 0, lines.join("\n") + new TextDecoder().decode(check.stderr));
      assert.ok(lines.includes("PASS tls: the connection and certificate are valid"));
      assert.ok(lines.includes("PASS socket session (challenge, live envelope, ack)"));
    } finally {
      nginx.kill("SIGTERM");
      const status = await nginx.output();
      if (!status.success && status.signal !== "SIGTERM") {
        console.error(new TextDecoder().decode(status.stderr));
      }
    }
  },
});
