/**
 * The page a person sees when opening the relay's URL in a browser: what this is, that it runs,
 * and how to use it in VaultMesh. Plain HTML and inline CSS, no scripts or external assets, and
 * nothing that identifies a vault, device or address.
 *
 * @module
 */
import type { RelayMode } from "../modes/mode.ts";
import { PROTOCOL_NAME, VERSION } from "../version.ts";

/** What the status page shows. */
export interface StatusFacts {
  readonly mode: RelayMode;
  /** Seconds the relay has been running. */
  readonly uptimeSeconds: number;
  /**
   * Which relay this is among several behind one URL (`--shard-name`: letters, digits, dots,
   * hyphens and underscores only, so it needs no escaping); none: the line is left out.
   */
  readonly shardName?: string | undefined;
}

/** `93784` -> `1 day, 2 hours, 3 minutes`. */
export function formatUptime(seconds: number): string {
  const parts: string[] = [];
  const units: [string, number][] = [["day", 86400], ["hour", 3600], ["minute", 60]];
  let left = Math.floor(seconds);
  for (const [name, size] of units) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? "" : "s"}`);
  }
  return parts.length === 0 ? "less than a minute" : parts.join(", ");
}

const STYLE = `
:root { color-scheme: light dark; --accent: #2f6f4f; --muted: #5b6470; --card: #f4f6f8; }
@media (prefers-color-scheme: dark) { :root { --accent: #7bd3a0; --muted: #a3acb8; --card: #1d2228; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 44rem; margin: 0 auto; padding: 3rem 1.5rem; }
h1 { font-size: 1.9rem; margin: 0 0 .25rem; }
.lead { color: var(--muted); margin: 0 0 2rem; }
.status { display: inline-flex; align-items: center; gap: .5rem; font-weight: 600;
  color: var(--accent); margin-bottom: 1.5rem; }
.dot { width: .75rem; height: .75rem; border-radius: 50%; background: var(--accent); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .5rem 1.5rem; margin: 0;
  padding: 1.25rem 1.5rem; background: var(--card); border-radius: .75rem; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 600; }
h2 { font-size: 1.2rem; margin: 2.25rem 0 .5rem; }
ol { padding-left: 1.25rem; }
code { font: .95em ui-monospace, SFMono-Regular, Menlo, monospace; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .875rem; }
`;

/** The status page's HTML. */
export function statusPageHtml(facts: StatusFacts): string {
  const buffering = facts.mode.buffering === "enabled"
    ? "enabled: messages wait here, encrypted, until your other devices fetch them"
    : "disabled: messages only reach devices connected right now";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VaultMesh Relay</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>VaultMesh Relay</h1>
<p class="lead">A self-hosted relay that lets VaultMesh devices on different networks find each
other and pass end-to-end-encrypted sync traffic. It only ever sees ciphertext.</p>
<p class="status"><span class="dot"></span>Running</p>
<dl>
<dt>Protocol</dt><dd>${PROTOCOL_NAME}</dd>
<dt>Mode</dt><dd>${facts.mode.name}</dd>
<dt>Buffering</dt><dd>${buffering}</dd>
${
    facts.shardName === undefined
      ? ""
      : `<dt>Shard</dt><dd>${facts.shardName}</dd>\n`
  }<dt>Uptime</dt><dd>${formatUptime(facts.uptimeSeconds)}</dd>
<dt>Version</dt><dd>${VERSION}</dd>
</dl>
<h2>Use this relay in VaultMesh</h2>
<ol>
<li>Copy the address of this page from your browser's address bar (it should start with <code>https://</code>).</li>
<li>In VaultMesh, open <strong>Settings - Sync - Relay</strong> and paste it.</li>
<li>Do the same on each of your devices. They sync through this relay when they are not on the same network.</li>
</ol>
<footer>Operators: the health check is at <code>/health</code>.</footer>
</main>
</body>
</html>
`;
}

/** The status page as a response. */
export function statusPageResponse(facts: StatusFacts): Response {
  return new Response(statusPageHtml(facts), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    },
  });
}
