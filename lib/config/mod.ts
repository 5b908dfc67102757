/**
 * Every command-line flag of the relay, defined once, and what is made of it.
 *
 * - `flags.ts`: the {@linkcode FLAGS} table (group, default, help, value type) and the
 *   {@linkcode Config} it produces
 * - `values.ts`: value types and parsers (byte sizes, listen addresses, multiaddr lists, …)
 * - `parse.ts`: argv and environment into a {@linkcode Command}; {@linkcode ConfigError}
 * - `help.ts`: the `--help` text and the README's Markdown table
 *
 * Each flag can also be set through its `VAULTMESH_RELAY_*` environment variable; a flag on the
 * command line wins over the environment, which wins over the default.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./mod.ts";
 *
 * const command = parseCommand(Deno.args, Deno.env.toObject());
 * if (command.kind === "run") console.log(command.config.listen.port);
 * ```
 *
 * @module
 */
export {
  type Config,
  envName,
  FLAG_GROUPS,
  FLAG_KEYS,
  type FlagGroup,
  type FlagKey,
  flagName,
  FLAGS,
  type FlagSpec,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type Mode,
  MODES,
} from "./flags.ts";
export {
  type ListenAddress,
  parseBindHost,
  parseByteSize,
  parseListenAddress,
  parseMultiaddrList,
  type ValueType,
} from "./values.ts";
export { type Command, ConfigError, defaultConfig, parseCommand } from "./parse.ts";
export { DEFAULT_HELP_WIDTH, flagsMarkdownTable, helpText, helpWidth } from "./help.ts";
