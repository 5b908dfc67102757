/**
 * Every command-line flag of the relay, defined once, and what is made of it.
 *
 * - `flags.ts`: the {@linkcode FLAGS} table (group, default, help, value type) and the
 *   {@linkcode Config} it produces
 * - `values.ts`: value parsers (byte sizes, listen addresses, bind hosts, multiaddr lists, …)
 * - `value_types.ts`: each parser with its `--help` placeholder and what it accepts
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
} from "./flags.ts";
export {
  type ListenAddress,
  parseBindHost,
  parseByteSize,
  parseListenAddress,
  parseMultiaddrList,
} from "./values.ts";
export {
  type Checkpointer,
  CHECKPOINTERS,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type Mode,
  MODES,
  type ValueType,
} from "./value_types.ts";
export { type Command, ConfigError, defaultConfig, parseCommand } from "./parse.ts";
export { DEFAULT_HELP_WIDTH, flagsMarkdownTable, helpText, helpWidth } from "./help.ts";
