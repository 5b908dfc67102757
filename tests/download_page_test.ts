import assert from "node:assert/strict";
import { CHROMIUM, NO_CHROMIUM, runChromium } from "./_chromium.ts";
import { join } from "node:path";
import { envName, FLAG_KEYS, flagName, FLAGS } from "../lib/config/mod.ts";
import { downloadPageHtml, escapeHtml, humanSize } from "../scripts/package/download_page.ts";
import { tempDir } from "./_helpers.ts";

const PAGE = {
  version: "0.1.0",
  archives: [
    { name: "vaultmesh-relay-v0.1.0-linux-x64.tar.gz", size: 41_234_567, sha256: "a".repeat(64) },
    {
      name: "vaultmesh-relay-v0.1.0-linux-arm64.tar.gz",
      size: 40_111_222,
      sha256: "d".repeat(64),
    },
    {
      name: "vaultmesh-relay-v0.1.0-macos-universal.tar.gz",
      size: 80_123_456,
      sha256: "b".repeat(64),
    },
    { name: "vaultmesh-relay-v0.1.0-windows-x64.zip", size: 42_000_001, sha256: "c".repeat(64) },
  ],
};

Deno.test("download page names each platform beside its archive", () => {
  const html = downloadPageHtml(PAGE);
  assert.match(html, /<td>Linux x86-64<\/td><td><a href="vaultmesh-relay-v0\.1\.0-linux-x64/);
  assert.match(
    html,
    /<td>Linux ARM64 \(aarch64\)<\/td><td><a href="vaultmesh-relay-v0\.1\.0-linux-arm64\.tar\.gz"/,
  );
  assert.match(
    html,
    /<td>macOS \(Apple silicon and Intel\)<\/td><td><a href="[^"]+macos-universal/,
  );
  assert.match(html, /<td>Windows x86-64<\/td><td><a href="[^"]+windows-x64\.zip"/);
  assert.ok(html.includes("39.3 MiB"));
});

Deno.test("download page carries every flag of lib/config/ with its variable and default", () => {
  const html = downloadPageHtml(PAGE);
  for (const key of FLAG_KEYS) {
    assert.ok(html.includes(`<code>${flagName(key)}&nbsp;`), `page lacks ${flagName(key)}`);
    assert.ok(html.includes(`<code>${envName(key)}</code>`));
    assert.ok(html.includes(`<code>${escapeHtml(FLAGS[key].default)}</code>`));
    assert.ok(html.includes(escapeHtml(FLAGS[key].help)));
  }
});

Deno.test("download page has quick start, systemd, Windows service and health-check sections", () => {
  const html = downloadPageHtml(PAGE);
  for (const id of ["downloads", "quick-start", "flags", "systemd", "windows-service", "health"]) {
    assert.ok(html.includes(`<h2 id="${id}">`), `page lacks section ${id}`);
  }
  assert.ok(html.includes("sha256sum -c --ignore-missing SHA256SUMS"));
  assert.ok(html.includes("tar -xzf vaultmesh-relay-v0.1.0-linux-x64.tar.gz"));
  assert.ok(html.includes("systemctl enable --now vaultmesh-relay"));
  assert.ok(html.includes("systemd/vaultmesh-relay.env /etc/vaultmesh-relay/relay.env"));
  assert.ok(html.includes("vaultmesh-relay-v0.1.0-linux-arm64.tar.gz"));
  assert.ok(html.includes("install-service.ps1"));
  assert.ok(html.includes("curl -s http://127.0.0.1:3030/health"));
});

Deno.test("download page is self-contained: no scripts, stylesheets, images or fonts from elsewhere", () => {
  const html = downloadPageHtml(PAGE);
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|\bsrc=|url\(|@import/i);
  for (const match of html.matchAll(/href="([^"]+)"/g)) {
    assert.doesNotMatch(match[1]!, /^(https?:)?\/\//, `page links out to ${match[1]}`);
  }
});

Deno.test("sizes read as bytes, KiB, MiB and GiB", () => {
  assert.equal(humanSize(512), "512 B");
  assert.equal(humanSize(2048), "2.0 KiB");
  assert.equal(humanSize(41_234_567), "39.3 MiB");
  assert.equal(humanSize(3 * 1024 ** 3), "3.0 GiB");
});

Deno.test({
  name: "download page renders to a full-width screenshot in headless Chromium" +
    (CHROMIUM ? "" : NO_CHROMIUM),
  ignore: CHROMIUM === undefined,
  sanitizeResources: false,
  fn: async () => {
    using dir = tempDir();
    const page = join(dir.path, "index.html");
    const shot = join(dir.path, "page.png");
    Deno.writeTextFileSync(page, downloadPageHtml(PAGE));
    const profile = join(dir.path, "profile");
    Deno.mkdirSync(profile);
    const result = await runChromium(
      [`--screenshot=${shot}`, "--window-size=1200,1600", `file://${page}`],
      profile,
    );
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    const png = Deno.readFileSync(shot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    const view = new DataView(png.buffer, png.byteOffset);
    assert.equal(view.getUint32(16), 1200);
    assert.equal(view.getUint32(20), 1600);
    const keep = Deno.env.get("VAULTMESH_KEEP_SCREENSHOT");
    if (keep) Deno.copyFileSync(shot, keep);
  },
});
