/**
 * The command line and environment, parsed into a {@linkcode Command}: run the relay with a
 * {@linkcode Config}, print help or the version, or `check <url>`. A flag on the command line
 * wins over its `VAULTMESH_RELAY_*` variable, which wins over the default.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Config, envName, FLAG_KEYS, type FlagKey, flagName, FLAGS } from "./flags.ts";

/** A value that cannot be accepted for a flag, or an unknown flag. Exit status 2. */
export class ConfigError extends Error {
  /** Always `ConfigError`. */
  override name = "ConfigError";
}

/** What the command line asks for: run the relay, print help or the version, or check a relay. */
export type Command =
  | { readonly kind: "run"; readonly config: Config }
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "check"; readonly url: string };

const CHECK_USAGE = "usage is vaultmesh-relay check <url>, e.g. check https://relay.example.org";

/** A host with an optional port and path, as an operator types a relay without its scheme. */
const SCHEMELESS_HOST = /^[a-z0-9.-]+(?::\d{1,5})?(?:\/\S*)?$/i;

function parseCheckCommand(args: readonly string[]): Command {
  const [url, ...extra] = args;
  if (url !== undefined && extra.length === 0) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && SCHEMELESS_HOST.test(url)) {
      throw new ConfigError(
        `Cannot check ${JSON.stringify(url)}: the URL lacks its scheme; add https:// ` +
          `(http:// for a relay without TLS), e.g. vaultmesh-relay check https://${url}`,
      );
    }
    const parsed = URL.parse(url);
    if (parsed && /^https?:$/.test(parsed.protocol)) return { kind: "check", url: parsed.href };
  }
  throw new ConfigError(`Cannot check ${JSON.stringify(args.join(" "))}: ${CHECK_USAGE}`);
}

function parseValue(key: FlagKey, raw: string, source: string): unknown {
  const value = FLAGS[key].parse(raw);
  if (value === undefined) {
    throw new ConfigError(
      `Cannot parse ${source} ${JSON.stringify(raw)}: expected ${FLAGS[key].accepted}`,
    );
  }
  return value;
}

/**
 * Refuses a database path that names a folder, before the store would fail on it with the
 * operating system's bare "Is a directory". A path that cannot be inspected is left to the store.
 */
function refuseFolder(path: string, source: string): void {
  let isFolder = false;
  try {
    isFolder = Deno.statSync(path).isDirectory;
  } catch {
    return;
  }
  if (isFolder) {
    const example = `${path.replace(/[/\\]+$/, "")}/relay.db`;
    throw new ConfigError(
      `Cannot use ${source} ${JSON.stringify(path)}: it is a folder; name the database file ` +
        `inside it, e.g. ${example}`,
    );
  }
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function unknownFlagError(arg: string): ConfigError {
  const given = arg.replace(/=.*$/, "");
  const names = [...FLAG_KEYS.map(flagName), "--help", "--version"];
  const closest = names
    .map((name) => ({ name, distance: levenshtein(given, name) }))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = closest && closest.distance <= 3 ? ` (did you mean ${closest.name}?)` : "";
  return new ConfigError(
    `Unknown flag ${JSON.stringify(given)}${hint}: run with --help to list the flags`,
  );
}

/** Joins `--flag -1` into `--flag=-1` so a negative value is reported as a bad value. */
function joinNegativeValues(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (/^--[a-z0-9-]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function parseCommandLine(args: readonly string[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const key of FLAG_KEYS) options[flagName(key).slice(2)] = { type: "string" };
  try {
    return parseArgs({
      args: joinNegativeValues(args),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const arg = /'([^']+)'/.exec(message)?.[1] ?? args.find((a) => a.startsWith("-")) ?? "";
      throw unknownFlagError(arg);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = /--([a-z0-9-]+)/.exec(message)?.[0] ?? "a flag";
      throw new ConfigError(`Missing value for ${name}: run with --help to see what it takes`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const extra = args.find((a) => !a.startsWith("-")) ?? "";
      throw new ConfigError(
        `Unexpected argument ${JSON.stringify(extra)}: flags take the form --name value`,
      );
    }
    throw new ConfigError(message);
  }
}

/**
 * Parses the command line and environment into a {@linkcode Command}. Besides the values, it
 * checks that `--db` does not name an existing folder (when the path can be inspected).
 *
 * @example
 * ```ts
 * const command = parseCommand(["--mode", "stateless"], {});
 * // command.kind === "run", command.config.mode === "stateless"
 * ```
 * @throws {ConfigError} naming the flag (or variable), the value and what is accepted.
 */
export function parseCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Command {
  if (args[0] === "check") return parseCheckCommand(args.slice(1));
  const { values } = parseCommandLine(args);
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const config: Record<string, unknown> = {};
  const sources: Partial<Record<FlagKey, string>> = {};
  for (const key of FLAG_KEYS) {
    const fromFlag = values[flagName(key).slice(2)];
    const fromEnv = env[envName(key)];
    const [raw, source] = typeof fromFlag === "string"
      ? [fromFlag, flagName(key)]
      : fromEnv !== undefined
      ? [fromEnv, envName(key)]
      : [FLAGS[key].default, `default of ${flagName(key)}`];
    config[key] = parseValue(key, raw, source);
    sources[key] = source;
  }
  refuseFolder(config.db as string, sources.db!);
  return { kind: "run", config: config as Config };
}

/** The configuration with every flag at its default, with some overridden. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  const command = parseCommand([], {});
  if (command.kind !== "run") throw new TypeError("Defaults must parse to a run command");
  return { ...command.config, ...overrides };
}
