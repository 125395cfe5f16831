/**
 * `deno task query`: run SQL or a named analysis on the lake, locally (Polars SQL) or on Athena.
 *
 * ```sh
 * deno task query "SELECT symbol, COUNT(*) AS bars FROM ticks GROUP BY symbol"
 * deno task query --named ohlc --interval month --output csv
 * deno task query --target aws --named latest
 * ```
 *
 * @module
 */

import {
  choiceFlag,
  numberFlag,
  type ParsedFlags,
  runCommand,
  stringFlag,
  UsageError,
} from "../lib/cli.ts";
import { ConfigError, configFlags, loadConfig, type PipelineConfig } from "../lib/config.ts";
import { DEFAULT_TABLE, tablePrefix } from "../lib/lake/layout.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger } from "../lib/log.ts";
import {
  ANALYSES,
  ANALYSIS_SOURCES,
  type AnalysisName,
  type AnalysisSource,
  analysisSql,
  type Interval,
} from "../lib/query/analyses.ts";
import { queryAthena } from "../lib/query/athena.ts";
import { formatResult, OUTPUT_FORMATS } from "../lib/query/format.ts";
import { openLocalEngine, s3CloudOptions } from "../lib/query/local.ts";
import type { QueryResult } from "../lib/query/result.ts";
import { chooseSource, curatedTables } from "../lib/transform/frames.ts";

const COMMAND = {
  usage: [
    'deno task query [flags] "<SQL>"',
    "deno task query [flags] --named <analysis> [--interval day|week|month] [--from YYYY-MM-DD]",
    "         [--to YYYY-MM-DD] [--symbol S ...] [--window N] [--limit N]",
    "deno task query --list",
  ],
  about:
    `The lake is the table "ticks" (columns symbol, ts, open, high, low, close, adj_close, volume,
close_usd and the partition column dt = 'YYYY-MM-DD'); after "deno task transform" also the
curated tables "bars_daily" (one row per symbol and day, partition dt) and "symbols" (name,
exchange, country, currency, last close), which SQL can join.`,
  flags: {
    target: {
      type: "string",
      description: "local: Polars SQL over the lake; aws: Athena",
      default: "local",
    },
    output: { type: "string", description: OUTPUT_FORMATS.join(", "), default: "table" },
    list: { type: "boolean", description: "List the named analyses" },
    named: { type: "string", description: "Run a named analysis (see --list) instead of SQL" },
    interval: { type: "string", description: "--named: day, week or month" },
    from: { type: "string", description: "--named: first day, YYYY-MM-DD" },
    to: { type: "string", description: "--named: last day, YYYY-MM-DD" },
    symbol: { type: "string", multiple: true, description: "--named: only this symbol (repeat)" },
    window: { type: "string", description: "--named: window length N" },
    limit: { type: "string", description: "--named: at most N rows" },
    source: {
      type: "string",
      description:
        "--named: ticks, bars_daily, or auto (bars_daily for ohlc/vwap when deno task transform is up to date)",
      default: "auto",
    },
    ...configFlags("lake", "database", "table", "workgroup", "athenaOutput", "region", "endpoint"),
  },
  footer: "Ctrl-C cancels a running Athena query (StopQueryExecution).",
  positionals: true,
} as const;

async function query({ values, positionals }: ParsedFlags): Promise<number> {
  if (values.list) {
    listAnalyses();
    return 0;
  }
  const output = choiceFlag("output", values.output, OUTPUT_FORMATS) ?? "table";
  const target = choiceFlag("target", values.target, ["local", "aws"] as const) ?? "local";
  const engine = target === "aws" ? "athena" : "local";
  const config = loadConfig({ flags: values });
  const sql = sqlToRun({ values, positionals }, engine, config, await sourceOf(values, config));
  const result = engine === "local"
    ? await queryLake(sql, config)
    : await queryOnAthena(sql, config);
  await Deno.stdout.write(new TextEncoder().encode(formatResult(result, output)));
  consoleLogger.info(statsLine(result));
  return 0;
}

function listAnalyses(): void {
  for (const analysis of Object.values(ANALYSES)) {
    console.log(`${analysis.name.padEnd(7)} ${analysis.description}`);
    console.log(`        options: ${analysis.options.map(flagOf).join(", ")}`);
  }
}

/** The SQL given, or the named analysis' SQL for the engine; the analysis flags only go with --named. */
function sqlToRun(
  { values, positionals }: ParsedFlags,
  engine: "local" | "athena",
  config: PipelineConfig,
  source?: AnalysisSource,
): string {
  if (values.named !== undefined) {
    if (positionals.length > 0) {
      throw new UsageError("Give either SQL or --named <analysis>, not both.");
    }
    const whole = { integer: true };
    return analysisSql(stringFlag("named", values.named)!, engine, {
      table: config.table,
      interval: stringFlag("interval", values.interval) as Interval | undefined,
      from: stringFlag("from", values.from),
      to: stringFlag("to", values.to),
      symbols: values.symbol as string[] | undefined,
      window: numberFlag("window", values.window, whole),
      limit: numberFlag("limit", values.limit, whole),
      source,
    });
  }
  if (positionals.length !== 1 || positionals[0].trim() === "") {
    throw new UsageError(
      'Give one SQL statement in quotes, e.g. deno task query "SELECT * FROM ticks LIMIT 5", or --named <analysis> (see --list).',
    );
  }
  for (const flag of ["interval", "from", "to", "symbol", "window", "limit", "source"] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} only applies with --named.`);
  }
  return positionals[0];
}

/**
 * The table a named analysis reads (`--source`, default auto: `bars_daily` for ohlc/vwap when it
 * is up to date with ticks), said on stderr; `undefined` without `--named`.
 */
async function sourceOf(
  values: ParsedFlags["values"],
  config: PipelineConfig,
): Promise<AnalysisSource | undefined> {
  const name = stringFlag("named", values.named);
  if (name === undefined || !Object.hasOwn(ANALYSES, name)) return undefined;
  const requested = choiceFlag("source", values.source, ["auto", ...ANALYSIS_SOURCES] as const);
  if (config.table !== DEFAULT_TABLE && requested !== "bars_daily") return undefined;
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  const choice = await chooseSource(store, name as AnalysisName, {
    requested,
    from: stringFlag("from", values.from),
    to: stringFlag("to", values.to),
  });
  consoleLogger.info(`${name} reads ${choice.source}: ${choice.reason}.`);
  return choice.source;
}

/** Polars SQL over the lake (a folder or S3), with the curated tables beside `ticks`. */
async function queryLake(sql: string, config: PipelineConfig): Promise<QueryResult> {
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  const cloudOptions = s3CloudOptions({ region: config.region, endpoint: config.endpoint });
  const local = await openLocalEngine({
    store,
    table: config.table,
    prefix: tablePrefix(config.table),
    cloudOptions,
    tables: curatedTables({ cloudOptions }),
  });
  return await local.query(sql);
}

/** The query on Athena; the first Ctrl-C stops it there (StopQueryExecution). */
async function queryOnAthena(sql: string, config: PipelineConfig): Promise<QueryResult> {
  const controller = new AbortController();
  const onInterrupt = () => {
    consoleLogger.warn("Cancelling the Athena query (Ctrl-C again to quit at once)…");
    Deno.removeSignalListener("SIGINT", onInterrupt);
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    return await queryAthena(sql, {
      database: config.database,
      workgroup: config.workgroup,
      outputLocation: config.athenaOutput,
      region: config.region,
      endpoint: config.endpoint,
      signal: controller.signal,
      logger: consoleLogger,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/** Rows and time, and on Athena the data scanned and what it costs. */
function statsLine(result: QueryResult): string {
  const { stats } = result;
  const parts = [`${result.rows.length} rows in ${(stats.elapsedMs / 1000).toFixed(2)} s`];
  if (stats.dataScannedBytes !== undefined) {
    parts.push(
      `scanned ${(stats.dataScannedBytes / 1e6).toFixed(2)} MB, about $${
        stats.costUsd!.toFixed(6)
      } at $5/TB (10 MB minimum)`,
    );
  }
  return parts.join("; ");
}

function flagOf(option: string): string {
  return option === "symbols" ? "--symbol" : `--${option}`;
}

if (import.meta.main) {
  runCommand(COMMAND, query, {
    explain: (error) =>
      (error as Error)?.message +
      (error instanceof UsageError || error instanceof ConfigError
        ? '\nRun "deno task query --help" for usage.'
        : ""),
    exitCode: (error) =>
      error instanceof Error && error.name === "AthenaQueryCancelledError" ? 130 : 1,
  });
}
