import assert from "node:assert/strict";
import { formatUptime } from "../lib/http/status_page.ts";
import { startRelay, tempDir } from "./_helpers.ts";
import { CHROMIUM, NO_CHROMIUM, runChromium } from "./_chromium.ts";

/** Where the screenshot is kept for a person to look at after the run. */
const SCREENSHOT = new URL("../.tmp/status_page.png", import.meta.url).pathname;

function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset);
  assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "the file is a PNG");
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

Deno.test("uptime reads as days, hours and minutes", () => {
  assert.equal(formatUptime(12), "less than a minute");
  assert.equal(formatUptime(93784), "1 day, 2 hours, 3 minutes");
  assert.equal(formatUptime(7200), "2 hours");
});

Deno.test("the status page says what this is, that it runs and how to use it, and names nobody", async () => {
  using dir = tempDir();
  await using relay = await startRelay(dir.path);
  const response = await fetch(`${relay.url}/`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^text\/html/);
  assert.match(response.headers.get("content-security-policy")!, /default-src 'none'/);
  const html = await response.text();
  for (
    const text of [
      "VaultMesh Relay",
      "Running",
      "vaultmesh-relay-3",
      "store-and-forward",
      "enabled",
      "Settings - Sync - Relay",
      "Uptime",
    ]
  ) assert.ok(html.includes(text), text);
  assert.ok(!/<script|<link|src=|https?:\/\/[a-z0-9]/i.test(html), "no scripts or external assets");
  assert.ok(!html.includes("127.0.0.1"), "no addresses");
});

Deno.test({
  name: "the status page renders in headless Chromium" +
    (CHROMIUM ? "" : NO_CHROMIUM),
  ignore: CHROMIUM === undefined,
  async fn() {
    using dir = tempDir();
    await using relay = await startRelay(dir.path, { mode: "stateless" });
    await Deno.mkdir(new URL("../.tmp/", import.meta.url), { recursive: true });
    const dom = await runChromium(["--dump-dom", `${relay.url}/`], `${dir.path}/profile-dom`);
    const rendered = new TextDecoder().decode(dom.stdout);
    assert.match(rendered, /<h1>VaultMesh Relay<\/h1>/);
    assert.match(rendered, /stateless/);
    const shot = await runChromium(
      [`--screenshot=${SCREENSHOT}`, "--window-size=1200,900", `${relay.url}/`],
      `${dir.path}/profile-shot`,
    );
    assert.ok(shot.success, new TextDecoder().decode(shot.stderr).slice(-500));
    const png = await Deno.readFile(SCREENSHOT);
    assert.deepEqual(pngSize(png), { width: 1200, height: 900 });
    assert.ok(png.byteLength > 20_000, `A ${png.byteLength}-byte screenshot looks blank`);
    console.log(`Status page screenshot: ${SCREENSHOT}`);
  },
});
