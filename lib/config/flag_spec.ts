/**
 * How one flag is described: its `--help` group, default and help text, on top of its value type.
 *
 * @module
 */
import type { ValueType } from "./value_types.ts";

/** The headings of `--help`, in order: which part of the relay a flag tunes. */
export const FLAG_GROUPS = [
  { group: "server", title: "Server" },
  { group: "storage", title: "Storage" },
  { group: "p2p", title: "libp2p circuit relay and rendezvous" },
  { group: "limits", title: "Limits" },
  { group: "operations", title: "Operations" },
] as const;

/** One of the groups in {@linkcode FLAG_GROUPS}. */
export type FlagGroup = typeof FLAG_GROUPS[number]["group"];

/** How one flag is grouped, defaulted, explained and parsed. */
export interface FlagSpec<T> extends ValueType<T> {
  /** The `--help` heading it is listed under. */
  readonly group: FlagGroup;
  /** The default, as an operator would type it; empty for none. */
  readonly default: string;
  /** One phrase for `--help` and the README: lower case, no trailing period. */
  readonly help: string;
}

/** Declares a flag, checking its spec. */
export function flag<T>(spec: FlagSpec<T>): FlagSpec<T> {
  return spec;
}
