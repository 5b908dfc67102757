/**
 * One row of the abuse table: the figures an attack measured, each printed with its target
 * beside it, and the same figures as JSON. Rows state figures; they never judge them.
 *
 * @module
 */
import { fixed } from "./_load.ts";
import type { Target } from "./_abuse_target.ts";

/** What an attack needs from the scenario. */
export interface AttackContext {
  /** Length of each attack's load or observation window, in seconds. */
  readonly seconds: number;
  /** Counts scaled down for the smoke test; 1 for the real run. */
  readonly scale: number;
}

/** One attack of the table. */
export interface Attack {
  /** Selects it with `--only`. */
  readonly name: string;
  /** The issue that names it. */
  readonly issue: 13 | 14;
  readonly run: (context: AttackContext, row: Row) => Promise<void>;
}

/** The figures of one attack, in the order they were added. */
export class Row {
  readonly #texts: string[] = [];
  /** Figures by key, for `--json`. */
  readonly values: Record<string, unknown> = {};

  constructor(readonly name: string) {}

  /** Adds a figure: `value` under `key` for JSON, `text` for the table, `target` beside it. */
  add(key: string, value: unknown, text: string, target?: string): this {
    this.values[key] = typeof value === "number" && !Number.isFinite(value) ? null : value;
    this.#texts.push(target === undefined ? text : `${text} (target ${target})`);
    return this;
  }

  /** Adds a note without a figure (what was lifted, why a figure is missing). */
  note(text: string): this {
    this.#texts.push(text);
    return this;
  }

  /** Whether the relay is still up, or how it ended. */
  alive(target: Target): this {
    const death = target.death();
    return this.add(
      "relayDied",
      death ?? null,
      death === undefined ? "relay up" : `relay died: ${death}`,
      "up",
    );
  }

  /** The row's text. */
  text(): string {
    return this.#texts.join("; ");
  }
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return fixed(bytes / 2 ** 20);
}

/** Milliseconds with one decimal. */
export function ms(value: number): string {
  return fixed(value, 1);
}

/** A signed MiB difference, e.g. `+12.5`. */
export function growth(bytes: number): string {
  return Number.isFinite(bytes) ? `${bytes >= 0 ? "+" : ""}${mib(bytes)}` : "n/a";
}
