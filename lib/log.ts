/**
 * Logging set-up for the relay process. Library code only calls `getLogger`; the entry point
 * decides where records go. Records never carry IP addresses, vault ids or payload bytes at info
 * level or above.
 *
 * Every line the relay process writes to stderr is one of its own records in the chosen format:
 * while logging is set up, `console.*` calls (the Deno runtime's own warnings, a library that
 * prints) become records of the `vaultmesh-relay.runtime` category instead of free text that
 * would break `--log-format json`.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  reset,
} from "@logtape/logtape";
import type { LogFormat, LogLevel } from "./config/mod.ts";

/** The root logger category of the relay. */
export const LOG_CATEGORY = "vaultmesh-relay";

const encoder = new TextEncoder();

function stderrSink(format: LogFormat): (record: LogRecord) => void {
  const formatter = format === "json" ? getJsonLinesFormatter() : getTextFormatter({
    timestamp: "date-time-timezone",
    category: ".",
  });
  // Synchronous writes: nothing is lost when the process exits right after logging.
  return (record) => {
    Deno.stderr.writeSync(encoder.encode(formatter(record)));
  };
}

/** A text as a logtape message template with no placeholders: braces doubled. */
function literal(text: string): string {
  return text.replaceAll("{", "{{").replaceAll("}", "}}");
}

function consoleText(args: readonly unknown[]): string {
  return args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg)).join(" ");
}

const CONSOLE_LEVELS = {
  debug: "debug",
  info: "info",
  log: "info",
  warn: "warning",
  error: "error",
} as const;

type ConsoleMethod = keyof typeof CONSOLE_LEVELS;

/** Sends `console.*` output to `logger`; returns the function that puts the console back. */
function routeConsole(logger: Logger): () => void {
  const saved = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of Object.keys(CONSOLE_LEVELS) as ConsoleMethod[]) {
    saved.set(method, console[method]);
    const level = CONSOLE_LEVELS[method];
    console[method] = (...args: unknown[]) => logger[level](literal(consoleText(args)));
  }
  return () => {
    for (const [method, original] of saved) console[method] = original;
  };
}

let active: { format: LogFormat; restoreConsole: () => void } | undefined;

/**
 * Routes the relay's log records to stderr at `level` and above, as text or JSON lines, and
 * turns `console.*` output into records until {@linkcode teardownLogging}.
 */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  active?.restoreConsole();
  await configure({
    reset: true,
    sinks: { stderr: stderrSink(format) },
    loggers: [
      { category: [LOG_CATEGORY], sinks: ["stderr"], lowestLevel: level },
      { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
    ],
  });
  active = { format, restoreConsole: routeConsole(getLogger([LOG_CATEGORY, "runtime"])) };
}

/** Stops routing records and gives the console back; used on exit. */
export async function teardownLogging(): Promise<void> {
  active?.restoreConsole();
  active = undefined;
  await reset();
}

/**
 * Writes a fatal error: one record in JSON when the log format is JSON, otherwise the line
 * `vaultmesh-relay: <message>` (also before logging is set up, e.g. for a bad flag).
 */
export function writeFatal(message: string): void {
  if (active?.format === "json") {
    getLogger([LOG_CATEGORY, "main"]).fatal(literal(message));
  } else {
    Deno.stderr.writeSync(encoder.encode(`vaultmesh-relay: ${message}\n`));
  }
}
