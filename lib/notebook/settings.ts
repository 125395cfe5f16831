/**
 * The notebooks' settings: the pipeline's config plus the tutorial's knobs, with relative paths
 * resolved against the project (not the kernel's working directory) and per-run names for CI.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { numberRule, parseNumber } from "../cli.ts";
import { ConfigError, DEFAULT_CONFIG, loadConfig, type PipelineConfig } from "../config.ts";
import { rejectsPathFor } from "../source/rejects.ts";

/** The project folder (the parent of `lib/`), whatever the kernel's working directory is. */
export const PROJECT_ROOT: string = fileURLToPath(new URL("../..", import.meta.url)).replace(
  /\/+$/,
  "",
);

/** The settings every notebook reads: the pipeline's config plus the tutorial's knobs. */
export interface NotebookSettings extends PipelineConfig {
  /** Topic of the first "hello" message (kept apart from the tick topic). */
  testTopic: string;
  /** Topic of the producer notebook's hand-written send loop (kept apart from the tick topic). */
  byHandTopic: string;
  /** Suffix that makes topic, group and lake unique to one run (env `NOTEBOOK_RUN_ID`). */
  runId?: string;
  /** CSV file the producer reads, absolute (env `NOTEBOOK_CSV`). */
  csv: string;
  /** Where the producer keeps the CSV's bad rows: `<project>/rejects/<file>.rejects.csv`. */
  rejects: string;
  /** Rows the producer sends (env `NOTEBOOK_ROWS`). @default 5000 */
  rows: number;
  /** Rows per second the producer sends (env `NOTEBOOK_RATE`). @default 1000 */
  rate: number;
  /** `sample`: random rows like the original tutorial; `stream`: file order (env `NOTEBOOK_MODE`). @default "sample" */
  mode: "sample" | "stream";
  /** The consumer stops after this many seconds without a message (env `NOTEBOOK_IDLE_SECONDS`). @default 3 */
  idleSeconds: number;
  /** The consumer stops after this many messages (env `NOTEBOOK_MAX_MESSAGES`). @default 100000 */
  maxMessages: number;
  /** Where the analysis catalogs and queries: Polars SQL or Glue + Athena (env `NOTEBOOK_TARGET`). @default "local" */
  target: "local" | "aws";
}

/**
 * The values a notebook's first cell sets, each named after the variable a learner edits there.
 * A value given here wins over its environment variable (named in each field).
 */
export interface NotebookValues {
  /** `KAFKA_BROKERS`: `host:port`, several comma-separated, or a list. */
  brokers?: string | readonly string[];
  /** `KAFKA_TOPIC`. */
  topic?: string;
  /** `KAFKA_GROUP`. */
  group?: string;
  /** `LAKE_URI`: a folder (relative to the project) or `s3://bucket/prefix`. */
  lake?: string;
  /** `AWS_REGION`. */
  region?: string;
  /** `AWS_ENDPOINT_URL`. */
  endpoint?: string;
  /** `GLUE_DATABASE`. */
  database?: string;
  /** `GLUE_TABLE`. */
  table?: string;
  /** `ATHENA_WORKGROUP`. */
  workgroup?: string;
  /** `ATHENA_OUTPUT`. */
  athenaOutput?: string;
  /** `NOTEBOOK_CSV`. */
  csv?: string;
  /** `NOTEBOOK_ROWS`. */
  rows?: number | string;
  /** `NOTEBOOK_RATE`. */
  rate?: number | string;
  /** `NOTEBOOK_MODE`: `sample` or `stream`. */
  mode?: string;
  /** `NOTEBOOK_IDLE_SECONDS`. */
  idleSeconds?: number | string;
  /** `NOTEBOOK_MAX_MESSAGES`. */
  maxMessages?: number | string;
  /** `NOTEBOOK_TARGET`: `local` or `aws`. */
  target?: string;
}

/** The environment variable behind each {@linkcode NotebookValues} field. */
export const NOTEBOOK_VARIABLES: Readonly<Record<keyof NotebookValues, string>> = {
  brokers: "KAFKA_BROKERS",
  topic: "KAFKA_TOPIC",
  group: "KAFKA_GROUP",
  lake: "LAKE_URI",
  region: "AWS_REGION",
  endpoint: "AWS_ENDPOINT_URL",
  database: "GLUE_DATABASE",
  table: "GLUE_TABLE",
  workgroup: "ATHENA_WORKGROUP",
  athenaOutput: "ATHENA_OUTPUT",
  csv: "NOTEBOOK_CSV",
  rows: "NOTEBOOK_ROWS",
  rate: "NOTEBOOK_RATE",
  mode: "NOTEBOOK_MODE",
  idleSeconds: "NOTEBOOK_IDLE_SECONDS",
  maxMessages: "NOTEBOOK_MAX_MESSAGES",
  target: "NOTEBOOK_TARGET",
};

/** Options of {@linkcode notebookSettings}. */
export interface NotebookSettingsOptions {
  /** The values of the notebook's first cell; each wins over its environment variable. */
  values?: NotebookValues;
  /** The environment. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /** Project folder for relative paths. @default PROJECT_ROOT */
  root?: string;
}

/**
 * The environment variable `name`, trimmed, or `undefined` when it is unset or blank: the default
 * of a setting in a notebook's first cell, `const rows = fromEnv("NOTEBOOK_ROWS") ?? 5000;`.
 *
 * @example
 * ```ts
 * import { fromEnv } from "./settings.ts";
 * const brokers = fromEnv("KAFKA_BROKERS") ?? "localhost:9092";
 * ```
 */
export function fromEnv(
  name: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string | undefined {
  return env[name]?.trim() || undefined;
}

/**
 * The notebook settings: the values of the notebook's first cell, else the environment, else the
 * defaults. Relative folders (lake, CSV) are resolved against the project folder, not the
 * kernel's working directory (`notebooks/`). With `NOTEBOOK_RUN_ID` set (CI), the topic, group
 * and lake get that suffix so runs never collide; the default lake `./lake` then becomes
 * `.cache/notebook-runs/<id>/lake`.
 *
 * @example
 * ```ts
 * import { notebookSettings } from "./mod.ts";
 * const s = notebookSettings({ env: { NOTEBOOK_RUN_ID: "ci1" }, root: "/repo" });
 * s.topic; // "stock_market-nb-ci1"
 * s.lake; // "/repo/.cache/notebook-runs/ci1/lake"
 * notebookSettings({ values: { rows: 100, lake: "./my_lake" }, env: {}, root: "/repo" }).lake;
 * // "/repo/my_lake"
 * ```
 * @throws {ConfigError} naming the variable when a value is malformed.
 */
export function notebookSettings(options: NotebookSettingsOptions = {}): NotebookSettings {
  const env = { ...(options.env ?? Deno.env.toObject()) };
  for (const [field, value] of Object.entries(options.values ?? {})) {
    const name = NOTEBOOK_VARIABLES[field as keyof NotebookValues];
    if (name === undefined) {
      throw new ConfigError(
        `Unknown notebook setting "${field}": use ${Object.keys(NOTEBOOK_VARIABLES).join(", ")}.`,
      );
    }
    if (value !== undefined && value !== null) {
      env[name] = Array.isArray(value) ? value.join(",") : String(value);
    }
  }
  const root = options.root ?? PROJECT_ROOT;
  const config = loadConfig({ env });
  const runId = env.NOTEBOOK_RUN_ID?.trim() || undefined;
  if (runId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(runId)) {
    throw new ConfigError(
      `NOTEBOOK_RUN_ID="${runId}" is not valid: use 1-64 letters, digits, '_' or '-'.`,
    );
  }
  const suffix = runId ? `-nb-${runId}` : "";
  let lake = resolveFolder(config.lake, root);
  if (runId) {
    lake = lake === resolve(root, DEFAULT_CONFIG.lake)
      ? join(root, ".cache", "notebook-runs", runId, "lake")
      : `${lake.replace(/\/+$/, "")}/notebook-runs/${runId}`;
  }
  const csv = resolveFolder(env.NOTEBOOK_CSV?.trim() || "data/stock_data.csv", root);
  const mode = env.NOTEBOOK_MODE?.trim() || "sample";
  if (mode !== "sample" && mode !== "stream") {
    throw new ConfigError(`NOTEBOOK_MODE="${mode}" is not valid: use sample or stream.`);
  }
  const target = env.NOTEBOOK_TARGET?.trim() || "local";
  if (target !== "local" && target !== "aws") {
    throw new ConfigError(`NOTEBOOK_TARGET="${target}" is not valid: use local or aws.`);
  }
  if (target === "aws" && !lake.startsWith("s3://")) {
    throw new ConfigError(
      `NOTEBOOK_TARGET=aws needs an S3 lake for Glue and Athena, but the lake is "${lake}": ` +
        "set LAKE_URI=s3://bucket/prefix.",
    );
  }
  return {
    ...config,
    topic: `${config.topic}${suffix}`,
    group: `${config.group}${suffix}`,
    lake,
    testTopic: `${config.topic}${suffix}.hello`,
    byHandTopic: `${config.topic}${suffix}.by-hand`,
    runId,
    csv,
    rejects: rejectsPathFor(csv, join(root, "rejects")),
    rows: positiveNumber(env, "NOTEBOOK_ROWS", 5000, true),
    rate: positiveNumber(env, "NOTEBOOK_RATE", 1000, false),
    mode,
    idleSeconds: positiveNumber(env, "NOTEBOOK_IDLE_SECONDS", 3, false),
    maxMessages: positiveNumber(env, "NOTEBOOK_MAX_MESSAGES", 100_000, true),
    target,
  };
}

function resolveFolder(path: string, root: string): string {
  if (path.startsWith("s3://") || path.startsWith("file://") || isAbsolute(path)) return path;
  return resolve(root, path);
}

function positiveNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const rule = { positive: true, integer };
  const value = parseNumber(text, rule);
  if (value === undefined) {
    throw new ConfigError(`${name}="${text}" is not valid: use ${numberRule(rule)}.`);
  }
  return value;
}
