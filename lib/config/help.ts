/**
 * What the flag table says to people: the `--help` text, laid out for a terminal, and the
 * Markdown table of the README and the download page.
 *
 * @module
 */
import { envName, FLAG_GROUPS, FLAG_KEYS, flagName, FLAGS } from "./flags.ts";

/** Width of `--help` when stdout is not a terminal (a pipe, a file, a test). */
export const DEFAULT_HELP_WIDTH = 100;
/** Lines longer than this are hard to read even on a wide terminal. */
const MAX_HELP_WIDTH = 120;
/** Narrower than this, the text is laid out for this width (the terminal wraps it). */
const MIN_HELP_WIDTH = 60;
/** Below this many columns for descriptions they go under their flag instead of beside it. */
const MIN_DESCRIPTION_WIDTH = 40;

/**
 * The width `--help` is laid out for: the terminal's columns when stdout is a terminal,
 * otherwise {@linkcode DEFAULT_HELP_WIDTH}.
 */
export function helpWidth(): number {
  try {
    if (Deno.stdout.isTerminal()) return Deno.consoleSize().columns;
  } catch {
    // No console size (some CI terminals): fall back like a pipe.
  }
  return DEFAULT_HELP_WIDTH;
}

/** Words of a sentence; {@linkcode wrap} breaks lines only between words. */
function words(text: string): string[] {
  return text.split(" ").filter((word) => word !== "");
}

/** Lays out `words` in lines of at most `width` characters; a longer word is cut. */
function wrap(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of words) {
    while (word.length > width) {
      if (line) lines.push(line);
      line = "";
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A two-column row: a flag or command on the left, paragraphs of words on the right. */
interface Row {
  readonly left: string;
  readonly paragraphs: readonly (readonly string[])[];
}

/**
 * Where descriptions start: beside the widest left side, unless that leaves too little room for
 * the longest word (`[env: NAME]` is one), in which case they go under their flag.
 */
function descriptionColumn(rows: readonly Row[], width: number): number {
  const widest = Math.max(...rows.map((row) => row.left.length));
  const longestWord = Math.max(
    ...rows.flatMap((row) => row.paragraphs.flat()).map((w) => w.length),
  );
  const column = Math.min(2 + widest + 2, Math.floor(width * 0.4));
  return width - column >= Math.max(MIN_DESCRIPTION_WIDTH, longestWord) ? column : 6;
}

function renderRow(row: Row, column: number, width: number): string[] {
  const pad = " ".repeat(column);
  const text = row.paragraphs.flatMap((paragraph) => wrap(paragraph, width - column));
  const left = wrap(words(row.left), width - 2).map((line) => `  ${line}`);
  const last = left.at(-1)!;
  // The first description line shares the flag's line when there is room for a gap of two.
  if (last.length + 2 <= column && text.length > 0) {
    left[left.length - 1] = last.padEnd(column) + text.shift();
  }
  return [...left, ...text.map((line) => pad + line)];
}

function flagRow(key: typeof FLAG_KEYS[number]): Row {
  const spec = FLAGS[key];
  const defaultText = spec.default === "" ? "(none)" : spec.default;
  return {
    left: `${flagName(key)} ${spec.placeholder}`,
    paragraphs: [words(spec.help), [`[default: ${defaultText}]`, `[env: ${envName(key)}]`]],
  };
}

const COMMAND_ROWS: readonly Row[] = [
  { left: "vaultmesh-relay [flags]", paragraphs: [words("run the relay")] },
  {
    left: "vaultmesh-relay check <url>",
    paragraphs: [words("probe a deployed relay the way a client would; exit 1 on failure")],
  },
  { left: "vaultmesh-relay -h, --help", paragraphs: [words("print this help and exit")] },
  { left: "vaultmesh-relay -V, --version", paragraphs: [words("print the version and exit")] },
];

/**
 * The text printed by `--help`: what the relay is, its usage and subcommands, then every flag
 * under its group's heading with its default and environment variable, aligned and wrapped to
 * `width` columns (capped at 120; below 60 it is laid out for 60).
 *
 * @example
 * ```ts
 * console.log(helpText("0.1.0", { width: helpWidth() }));
 * ```
 */
export function helpText(version: string, options: { width?: number } = {}): string {
  const width = Math.max(
    MIN_HELP_WIDTH,
    Math.min(MAX_HELP_WIDTH, options.width ?? DEFAULT_HELP_WIDTH),
  );
  const groups = FLAG_GROUPS.map(({ group, title }) => ({
    title,
    rows: FLAG_KEYS.filter((key) => FLAGS[key].group === group).map(flagRow),
  }));
  const column = descriptionColumn([...COMMAND_ROWS, ...groups.flatMap((g) => g.rows)], width);
  const paragraph = (text: string) => wrap(words(text), width);
  return [
    ...paragraph(
      `vaultmesh-relay ${version}: rendezvous and forwarding of end-to-end-encrypted ` +
        "VaultMesh sync traffic, with an optional libp2p circuit relay",
    ),
    "",
    "Usage:",
    ...COMMAND_ROWS.flatMap((row) => renderRow(row, column, width)),
    ...groups.flatMap(({ title, rows }) => [
      "",
      `${title}:`,
      ...rows.flatMap((row) => renderRow(row, column, width)),
    ]),
    "",
    ...paragraph(
      "Every flag can also be set through its environment variable; a flag on the command " +
        "line wins over it.",
    ),
    ...paragraph(
      "Example: vaultmesh-relay --listen 127.0.0.1:3030 --db /var/lib/vaultmesh-relay/relay.db",
    ),
    ...paragraph(
      "Put TLS in front with a reverse proxy (Caddy, nginx); devices use its https:// URL.",
    ),
  ].join("\n");
}

/** The flags as a Markdown table, in `--help` order, for the README and the download page. */
export function flagsMarkdownTable(): string {
  const lines = [
    "| flag | environment variable | default | meaning |",
    "|---|---|---|---|",
  ];
  for (const key of FLAG_KEYS) {
    const spec = FLAGS[key];
    const defaultText = spec.default === "" ? "(none)" : `\`${spec.default}\``;
    lines.push(`| \`${flagName(key)}\` | \`${envName(key)}\` | ${defaultText} | ${spec.help} |`);
  }
  return lines.join("\n");
}
