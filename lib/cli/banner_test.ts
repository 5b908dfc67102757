import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { bannerLines } from "./banner.ts";

const address = { transport: "tcp", hostname: "127.0.0.1", port: 3030 } as const;

Deno.test("the banner names TTL and vault buffer in store-and-forward mode", () => {
  const text = bannerLines({ version: "9.9.9", config: defaultConfig(), address }).join("\n");
  assert.match(text, /ttl\s+72 h/);
  assert.match(text, /max buffer\s+10485760 bytes \(10 MiB\) per vault/);
  assert.match(text, /p2p\s+port 4001 on 0\.0\.0\.0/);
  assert.doesNotMatch(text, /warning/, "loopback needs no TLS warning");
});

Deno.test("the banner leaves out TTL and vault buffer in stateless mode, where they do not apply", () => {
  const config = defaultConfig({ mode: "stateless", p2pPort: 0 });
  const text = bannerLines({ version: "9.9.9", config, address }).join("\n");
  assert.match(text, /mode\s+stateless \(buffering disabled\)/);
  assert.match(
    text,
    /database\s+none \(stateless: envelopes and rendezvous registrations stay in memory\)/,
  );
  assert.doesNotMatch(text, /ttl|max buffer|relay\.db/);
  assert.match(text, /p2p\s+disabled/);
});

Deno.test("the banner of a stateless relay with p2p names the key file it keeps instead of a database", () => {
  const config = defaultConfig({ mode: "stateless", db: "/var/lib/vaultmesh-relay/relay.db" });
  const text = bannerLines({ version: "9.9.9", config, address }).join("\n");
  assert.match(
    text,
    /database\s+none \(stateless: .*; libp2p key in \/var\/lib\/vaultmesh-relay\/relay\.p2p-key\)/,
  );
});
