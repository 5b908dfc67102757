/**
 * Logging set-up for the relay process. Library code only calls `getLogger`; the entry point
 * decides where records go. Records never carry IP addresses, vault ids or payload bytes at info
 * level or above.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
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

/** Routes the relay's log records to stderr at `level` and above, as text or JSON lines. */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  await configure({
    reset: true,
    sinks: { stderr: stderrSink(format) },
    loggers: [
      { category: [LOG_CATEGORY], sinks: ["stderr"], lowestLevel: level },
      { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
    ],
  });
}

/** Stops routing records; used on exit. */
export async function teardownLogging(): Promise<void> {
  await reset();
}
