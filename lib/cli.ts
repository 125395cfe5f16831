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
  /** May be given more than once; the value is then a list. @default false */
  multiple?: boolean;
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

/** The value of one parsed flag: text, a switch, a list (`multiple`), or absent. */
export type FlagValue = string | boolean | string[] | undefined;

/** What {@linkcode parseFlags} returns. */
export interface ParsedFlags {
  /** Flag values by name. */
  values: Record<string, FlagValue>;
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
  const config: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, flag] of Object.entries(spec)) {
    config[name] = {
      type: flag.type,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const parsed = parseArgs({
      args,
      options: config,
      strict: true,
      allowPositionals: options.allowPositionals ?? false,
    });
    return {
      values: parsed.values as Record<string, FlagValue>,
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
    const value = flag.type === "string" ? ` <value>${flag.multiple ? " …" : ""}` : "";
    const left = `  ${flag.short ? `-${flag.short}, ` : ""}--${name}${value}`;
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
 * The one number rule of flags and settings: `text` as a number (`_` separators allowed), or
 * `undefined` when it is not one or breaks `options`; {@linkcode numberRule} says it in words.
 *
 * @example
 * ```ts
 * import { parseNumber } from "./cli.ts";
 * parseNumber("100_000", { integer: true, positive: true }); // 100000
 * parseNumber("0", { positive: true }); // undefined
 * ```
 */
export function parseNumber(text: string, options: NumberFlagOptions = {}): number | undefined {
  const n = Number(text.trim().replace(/_/g, ""));
  const min = options.min ?? 0;
  const bad = text.trim() === "" || !Number.isFinite(n) ||
    (options.integer && !Number.isInteger(n)) || (options.positive ? n <= 0 : n < min);
  return bad ? undefined : n;
}

/** What {@linkcode parseNumber} accepts with `options`, in words: "a whole number above 0". */
export function numberRule(options: NumberFlagOptions = {}): string {
  const kind = options.integer ? "a whole number" : "a number";
  return `${kind} ${options.positive ? "above 0" : `of at least ${options.min ?? 0}`}`;
}

/**
 * Reads a numeric flag; `undefined` stays `undefined`.
 *
 * @throws {UsageError} naming the flag and the accepted values.
 */
export function numberFlag(
  name: string,
  value: FlagValue,
  options: NumberFlagOptions = {},
): number | undefined {
  return parsedFlag(name, value, (text) => parseNumber(text, options), numberRule(options));
}

/** Reads a flag with `parse`; `undefined` stays `undefined`, anything unparsed names `rule`. */
function parsedFlag<T>(
  name: string,
  value: FlagValue,
  parse: (text: string) => T | undefined,
  rule: string,
): T | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === "string" ? parse(value) : undefined;
  if (parsed === undefined) throw new UsageError(`--${name} must be ${rule}, got "${value}".`);
  return parsed;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * The one duration rule of flags and settings: a number and a unit (`ms`, `s`, `m`, `h`, `d`),
 * e.g. `90s`, `15m`, `1h`, `2d`, `0s`, as milliseconds; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./cli.ts";
 * parseDuration("2d"); // 172800000
 * parseDuration("1.5h"); // 5400000
 * parseDuration("10"); // undefined: say which unit
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  return match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2]]) : undefined;
}

/**
 * Reads a duration flag (see {@linkcode parseDuration}) as milliseconds; `undefined` stays
 * `undefined`.
 *
 * @throws {UsageError} naming the flag and the accepted shapes.
 */
export function durationFlag(name: string, value: FlagValue): number | undefined {
  return parsedFlag(
    name,
    value,
    parseDuration,
    "a duration: a number and a unit ms, s, m, h or d (e.g. 90s, 1h, 2d)",
  );
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/**
 * The one byte-size rule of flags: a number and an optional unit (`B`, `KB`, `MB`, `GB`, `KiB`,
 * `MiB`, `GiB`; case-insensitive), e.g. `128MiB`, as whole bytes; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { parseSize } from "./cli.ts";
 * parseSize("128MiB"); // 134217728
 * parseSize("64 MB"); // 64000000
 * ```
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(text.trim().replace(/_/g, ""));
  return match
    ? Math.round(Number(match[1]) * SIZE_UNITS[(match[2] ?? "b").toLowerCase()])
    : undefined;
}

/**
 * Reads a byte-size flag (see {@linkcode parseSize}); `undefined` stays `undefined`.
 *
 * @throws {UsageError} naming the flag and the accepted shapes.
 */
export function sizeFlag(name: string, value: FlagValue): number | undefined {
  return parsedFlag(
    name,
    value,
    (text) => {
      const bytes = parseSize(text);
      return bytes !== undefined && bytes > 0 ? bytes : undefined;
    },
    "a size above 0: a number and an optional unit B, KB, MB, GB, KiB, MiB or GiB (e.g. 128MiB)",
  );
}

/** Reads a flag that takes one of a few words. */
export function choiceFlag<T extends string>(
  name: string,
  value: FlagValue,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${value}".`);
}

/** Reads a flag that takes text; `undefined` stays `undefined`. */
export function stringFlag(name: string, value: FlagValue): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw new UsageError(`--${name} needs a value, e.g. --${name} <value>.`);
}

/** Options of {@linkcode main}. */
export interface MainOptions {
  /** Turns an error into the text printed after `error: `. @default the error's message */
  explain?: (error: unknown) => string;
  /**
   * The exit code for an error; `undefined` falls back to the default.
   * @default 2 for a {@linkcode UsageError}, 1 otherwise
   */
  exitCode?: (error: unknown) => number | undefined;
}

/**
 * Runs a script's main function: prints errors as one readable message (no stack unless
 * `DEBUG=1`) and exits with the code `run` returns, 2 after a usage error, or 1.
 */
export async function main(
  run: () => Promise<number | void>,
  options: MainOptions = {},
): Promise<void> {
  try {
    const code = await run();
    Deno.exit(code ?? 0);
  } catch (error) {
    const err = error as Error;
    console.error(`error: ${options.explain ? options.explain(error) : err?.message ?? err}`);
    if (Deno.env.get("DEBUG")) console.error(err?.stack);
    Deno.exit(options.exitCode?.(error) ?? (err instanceof UsageError ? 2 : 1));
  }
}

/** What a script accepts, for {@linkcode runCommand} and {@linkcode usageText}. */
export interface CommandSpec {
  /** The synopsis after `Usage: `, e.g. `deno task consume [flags]`; one entry per line. */
  usage: string | readonly string[];
  /** What the command does, printed between the synopsis and the flags. */
  about?: string;
  /** The flags it takes (`--help` is added). */
  flags: Record<string, FlagSpec>;
  /** Printed after the flag table. */
  footer?: string;
  /** Accept arguments that are not flags. @default false */
  positionals?: boolean;
}

/** The `--help` text of a command: synopsis, description, flag table, footer. */
export function usageText(spec: CommandSpec): string {
  const [first, ...rest] = typeof spec.usage === "string" ? [spec.usage] : spec.usage;
  const synopsis = [`Usage: ${first}`, ...rest.map((line) => `       ${line}`)].join("\n");
  const flags = Object.keys(spec.flags).length > 0 ? `Flags:\n${helpText(spec.flags)}` : "";
  return [synopsis, spec.about, flags, spec.footer].filter((part) => part).join("\n\n");
}

/**
 * The whole life of a script: parses `Deno.args` against `spec` (printing {@linkcode usageText}
 * for `--help`), runs `run` with the flags, and exits as {@linkcode main} does.
 *
 * @example
 * ```ts
 * import { runCommand } from "./cli.ts";
 * if (import.meta.main) {
 *   runCommand({ usage: "deno task hello [flags]", flags: {} }, () => {
 *     console.log("hello");
 *     return Promise.resolve();
 *   });
 * }
 * ```
 */
export function runCommand(
  spec: CommandSpec,
  run: (flags: ParsedFlags) => Promise<number | void>,
  options: MainOptions & { args?: string[] } = {},
): Promise<void> {
  return main(async () => {
    const parsed = parseFlags(options.args ?? Deno.args, spec.flags, {
      allowPositionals: spec.positionals,
    });
    if (parsed.values.help) {
      console.log(usageText(spec));
      return 0;
    }
    return await run(parsed);
  }, options);
}
