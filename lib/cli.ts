/**
 * Small helpers shared by the `deno task` entry points: flag parsing with errors that say what
 * to do, number flags, and a `main` wrapper that prints errors without stack traces.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One flag a script accepts. */
export interface FlagSpec {
  /** `string` takes a value; `boolean` is a switch. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** What it does, for `--help`. */
  description: string;
  /** Shown in `--help` as the default. */
  default?: string;
}

/** Raised for bad command-line input; `main` prints it with the usage hint. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What {@linkcode parseFlags} returns. */
export interface ParsedFlags {
  /** Flag values by name. */
  values: Record<string, string | boolean | undefined>;
  /** Arguments that are not flags. */
  positionals: string[];
}

/**
 * Parses `args` against `spec` (plus `--help`). Unknown flags or missing values raise a
 * {@linkcode UsageError} that lists the accepted flags.
 */
export function parseFlags(
  args: string[],
  spec: Record<string, FlagSpec>,
  options: { allowPositionals?: boolean } = {},
): ParsedFlags {
  const config: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, flag] of Object.entries(spec)) {
    config[name] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
  }
  try {
    const parsed = parseArgs({
      args,
      options: config,
      strict: true,
      allowPositionals: options.allowPositionals ?? false,
    });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new UsageError(
      `${
        (error as Error).message.replace(/\. To specify a positional.*$/s, "")
      }. Accepted flags:\n${helpText(spec)}`,
    );
  }
}

/** The flag table printed by `--help`. */
export function helpText(spec: Record<string, FlagSpec>): string {
  return Object.entries(spec).map(([name, flag]) => {
    const left = `  --${name}${flag.type === "string" ? " <value>" : ""}`;
    const def = flag.default !== undefined ? ` (default: ${flag.default})` : "";
    return `${left.padEnd(28)} ${flag.description}${def}`;
  }).join("\n");
}

/** Options of {@linkcode numberFlag}. */
export interface NumberFlagOptions {
  /** Smallest accepted value. @default 0 (exclusive when `positive`) */
  min?: number;
  /** Require a whole number. @default false */
  integer?: boolean;
  /** Require a value above zero. @default false */
  positive?: boolean;
}

/**
 * Reads a numeric flag; `undefined` stays `undefined`.
 *
 * @throws {UsageError} naming the flag and the accepted values.
 */
export function numberFlag(
  name: string,
  value: string | boolean | undefined,
  options: NumberFlagOptions = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" ? Number(value.replace(/_/g, "")) : NaN;
  const kind = options.integer ? "a whole number" : "a number";
  const min = options.min ?? 0;
  const bad = !Number.isFinite(n) || (options.integer && !Number.isInteger(n)) ||
    (options.positive ? n <= 0 : n < min);
  if (bad) {
    const bound = options.positive ? "above 0" : `of at least ${min}`;
    throw new UsageError(`--${name} must be ${kind} ${bound}, got "${value}".`);
  }
  return n;
}

/** Reads a flag that takes one of a few words. */
export function choiceFlag<T extends string>(
  name: string,
  value: string | boolean | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${value}".`);
}

/**
 * Runs a script's main function: prints errors as one readable message (no stack unless
 * `DEBUG=1`) and exits non-zero.
 */
export async function main(run: () => Promise<number | void>): Promise<void> {
  try {
    const code = await run();
    Deno.exit(code ?? 0);
  } catch (error) {
    const err = error as Error;
    console.error(`error: ${err?.message ?? err}`);
    if (Deno.env.get("DEBUG")) console.error(err?.stack);
    Deno.exit(err instanceof UsageError ? 2 : 1);
  }
}
