/**
 * The static download page (`dist/index.html`) of a release: every archive with its real size and
 * SHA-256, a quick start, the flags table from `lib/config/`, and the service and health-check
 * sections. One self-contained HTML file: plain CSS, no scripts, no external assets.
 *
 * `deno task package` writes it as its last step (`release_index.ts`); `deno task package
 * --index-only --out DIR` rewrites it for the archives already in DIR.
 *
 * @module
 */
import { envName, FLAG_KEYS, flagName, FLAGS } from "../../lib/config/mod.ts";
import type { ReleaseFile } from "./checksums.ts";
import { archiveStem, PLATFORMS } from "./platforms.ts";
import { SYSTEMD_ENV_PATH } from "./systemd_env.ts";

/** What the page describes. */
export interface DownloadPage {
  readonly version: string;
  /** The archives, as listed in `SHA256SUMS`. */
  readonly archives: readonly ReleaseFile[];
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `48.3 MiB` for people; the exact byte count is shown beside it. */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function platformLabel(version: string, name: string): string {
  const platform = PLATFORMS.find((p) => name.startsWith(archiveStem(version, p) + "."));
  return platform?.label ?? name;
}

function downloadsTable(page: DownloadPage): string {
  const rows = page.archives.map((file) => {
    const name = escapeHtml(file.name);
    return `<tr><td>${escapeHtml(platformLabel(page.version, file.name))}</td>` +
      `<td><a href="${name}">${name}</a></td>` +
      `<td class="size" title="${file.size} bytes">${humanSize(file.size)}<br>` +
      `<small>${file.size.toLocaleString("en-US")} bytes</small></td>` +
      `<td><code class="sum">${file.sha256}</code></td></tr>`;
  });
  return `<table class="downloads"><thead><tr><th>Platform</th><th>File</th><th>Size</th>` +
    `<th>SHA-256</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function flagsTable(): string {
  const rows = FLAG_KEYS.map((key) => {
    const spec = FLAGS[key];
    return `<tr><td><code>${flagName(key)}&nbsp;${escapeHtml(spec.placeholder)}</code></td>` +
      `<td><code>${envName(key)}</code></td><td><code>${escapeHtml(spec.default)}</code></td>` +
      `<td>${escapeHtml(spec.help)}</td></tr>`;
  });
  return `<table><thead><tr><th>Flag</th><th>Environment variable</th><th>Default</th>` +
    `<th>Meaning</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function pre(text: string): string {
  return `<pre><code>${escapeHtml(text)}</code></pre>`;
}

const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #ffffff;
  --panel: #f3f5f9; --line: #d9dee8; --accent: #2456c7; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa3b5; --bg: #141821;
  --panel: #1d2230; --line: #2c3345; --accent: #7aa2ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 64rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1.5rem; }
h1 { font-size: 2rem; margin: 0 0 .25rem; }
h1 .version { color: var(--muted); font-weight: 400; }
h2 { font-size: 1.35rem; margin: 2.25rem 0 .75rem; padding-top: .5rem;
  border-top: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
p.lead { color: var(--muted); margin-top: 0; }
a { color: var(--accent); }
table { width: 100%; border-collapse: collapse; margin: .5rem 0 1rem; font-size: .95rem; }
th, td { text-align: left; vertical-align: top; padding: .5rem .6rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; }
td.size { white-space: nowrap; }
td small { color: var(--muted); }
code, pre { font: .88rem/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
code.sum { word-break: break-all; font-size: .8rem; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: .75rem 1rem; overflow-x: auto; }
.note { color: var(--muted); font-size: .95rem; }
`;

/** The download page as one HTML document. */
export function downloadPageHtml(page: DownloadPage): string {
  const v = page.version;
  const linux = `vaultmesh-relay-v${v}-linux-x64`;
  const linuxArm = `vaultmesh-relay-v${v}-linux-arm64`;
  const macos = `vaultmesh-relay-v${v}-macos-universal`;
  const windows = `vaultmesh-relay-v${v}-windows-x64`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VaultMesh Relay ${escapeHtml(v)}: downloads</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>VaultMesh Relay <span class="version">v${escapeHtml(v)}</span></h1>
<p class="lead">The self-hosted relay for end-to-end-encrypted VaultMesh sync: rendezvous and
forwarding of ciphertext between your devices. One binary, no runtime to install.</p>
</header>

<h2 id="downloads">Downloads</h2>
${downloadsTable(page)}
<p class="note">Every archive extracts to a folder of the same name holding the binary, README.md,
LICENSE and the service files for its platform. Checksums of all archives:
<a href="SHA256SUMS">SHA256SUMS</a>.</p>

<h2 id="quick-start">Quick start</h2>
<h3>Linux and macOS</h3>
${
    pre(`# download the archive for your platform and SHA256SUMS into one folder, then:
sha256sum -c --ignore-missing SHA256SUMS      # macOS: shasum -a 256 -c --ignore-missing SHA256SUMS
tar -xzf ${linux}.tar.gz
cd ${linux}
./vaultmesh-relay --listen 0.0.0.0:3030 --db relay.db`)
  }
<p class="note">On 64-bit ARM Linux (Raspberry Pi 4 and 5 with a 64-bit OS, Ampere, Graviton) use
<code>${linuxArm}.tar.gz</code> the same way. On macOS use <code>${macos}.tar.gz</code>; it runs
on Apple silicon and Intel.</p>
<h3>Windows (PowerShell)</h3>
${
    pre(`(Get-FileHash .\\${windows}.zip -Algorithm SHA256).Hash   # compare with SHA256SUMS
Expand-Archive .\\${windows}.zip -DestinationPath .
cd .\\${windows}
.\\vaultmesh-relay.exe --listen 0.0.0.0:3030 --db relay.db`)
  }
<p>Then put TLS in front with a reverse proxy (Caddy, nginx) and type its <code>https://</code> URL
into each device's Settings - Sync - Relay. A minimal Caddyfile:</p>
${pre("relay.example.org {\n    reverse_proxy 127.0.0.1:3030\n}")}

<h2 id="flags">Flags</h2>
<p>Every flag can also be set through its environment variable; a flag on the command line wins.
<code>vaultmesh-relay --help</code> prints the same list.</p>
${flagsTable()}

<h2 id="systemd">Run as a systemd service (Linux)</h2>
<p>The Linux archives hold <code>systemd/vaultmesh-relay.service</code>: a hardened unit that runs
the relay as the dynamic user <code>vaultmesh-relay</code> with its database in
<code>/var/lib/vaultmesh-relay/relay.db</code>, listening on <code>127.0.0.1:3030</code> behind
your proxy, restarted on failure; and <code>systemd/vaultmesh-relay.env</code>, every setting with
its default.</p>
${
    pre(`sudo install -m 0755 ${linux}/vaultmesh-relay /usr/local/bin/vaultmesh-relay
sudo install -m 0644 ${linux}/systemd/vaultmesh-relay.service /etc/systemd/system/
sudo install -D -m 0600 ${linux}/systemd/vaultmesh-relay.env ${SYSTEMD_ENV_PATH}
sudo systemctl daemon-reload
sudo systemctl enable --now vaultmesh-relay
journalctl -u vaultmesh-relay -f`)
  }
<p class="note">The unit starts the relay without flags (a flag would win over the environment), so
change settings in <code>${SYSTEMD_ENV_PATH}</code>: uncomment a
<code>VAULTMESH_RELAY_…</code> line, change it, then
<code>sudo systemctl restart vaultmesh-relay</code>. See <code>systemd/README.md</code>.</p>

<h2 id="windows-service">Run as a Windows service</h2>
<p>The Windows archive holds <code>shawl.exe</code> (a service wrapper) and two scripts. In an
administrator PowerShell inside the extracted folder:</p>
${
    pre(`powershell -ExecutionPolicy Bypass -File .\\install-service.ps1
# later: powershell -ExecutionPolicy Bypass -File .\\uninstall-service.ps1`)
  }
<p class="note">The service starts automatically, restarts on failure and keeps its database in
<code>C:\\ProgramData\\VaultMesh Relay\\relay.db</code>. On stop, shawl sends Ctrl-C and the relay
shuts down gracefully. Its settings are <code>VAULTMESH_RELAY_…</code> variables in the service's
environment. See <code>SERVICE.md</code>.</p>

<h2 id="health">Health check</h2>
${
    pre(`$ curl -s http://127.0.0.1:3030/health
{"status":"ok","protocol":"vaultmesh-relay-3","mode":"store-and-forward","buffering":"enabled"}`)
  }
<p class="note">In stateless mode it says <code>"mode":"stateless"</code> and
<code>"buffering":"disabled"</code>.</p>
</main>
</body>
</html>
`;
}
