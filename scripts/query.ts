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

import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { tablePrefix } from "../lib/lake/layout.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger } from "../lib/log.ts";
import { ANALYSES, analysisSql, type Interval } from "../lib/query/analyses.ts";
import { queryAthena } from "../lib/query/athena.ts";
import { formatResult, OUTPUT_FORMATS, type OutputFormat } from "../lib/query/format.ts";
import { openLocalEngine, s3CloudOptions } from "../lib/query/local.ts";
import type { QueryResult } from "../lib/query/result.ts";

const HELP = `Usage:
  deno task query [options] "<SQL>"
  deno task query [options] --named <analysis> [--interval day|week|month] [--from YYYY-MM-DD]
                  [--to YYYY-MM-DD] [--symbol S ...] [--window N] [--limit N]
  deno task query --list

The lake is the table "ticks" (columns symbol, ts, open, high, low, close, adj_close, volume,
close_usd and the partition column dt = 'YYYY-MM-DD').

Options:
  --target local|aws     local: Polars SQL over the lake; aws: Athena        (default local)
  --output table|csv|json                                                      (default table)
  --lake <dir|s3://bucket/prefix>   lake to query locally        (env LAKE_URI, default ./lake)
  --database, --table    Glue database and table     (env GLUE_DATABASE, GLUE_TABLE)
  --workgroup            Athena workgroup            (env ATHENA_WORKGROUP, default primary)
  --athena-output        s3:// location for Athena results (env ATHENA_OUTPUT)
  --region, --endpoint   AWS region and emulator endpoint (env AWS_REGION, AWS_ENDPOINT_URL)
  --list                 list the named analyses
  -h, --help             this help

Ctrl-C cancels a running Athena query (StopQueryExecution).`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      named: { type: "string" },
      interval: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      symbol: { type: "string", multiple: true },
      window: { type: "string" },
      limit: { type: "string" },
      output: { type: "string", default: "table" },
      target: { type: "string", default: "local" },
      lake: { type: "string" },
      database: { type: "string" },
      table: { type: "string" },
      workgroup: { type: "string" },
      "athena-output": { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.list) {
    for (const analysis of Object.values(ANALYSES)) {
      console.log(`${analysis.name.padEnd(7)} ${analysis.description}`);
      console.log(`        options: ${analysis.options.map(flagOf).join(", ")}`);
    }
    return 0;
  }
  const output = values.output as OutputFormat;
  if (!OUTPUT_FORMATS.includes(output)) {
    throw new UsageError(
      `--output "${values.output}" is not known: use ${OUTPUT_FORMATS.join(", ")}.`,
    );
  }
  if (values.target !== "local" && values.target !== "aws") {
    throw new UsageError(`--target "${values.target}" is not known: use local or aws.`);
  }
  const engine = values.target === "aws" ? "athena" : "local";
  const config = loadConfig({ flags: values });

  let sql: string;
  if (values.named !== undefined) {
    if (positionals.length > 0) {
      throw new UsageError("Give either SQL or --named <analysis>, not both.");
    }
    sql = analysisSql(values.named, engine, {
      table: config.table,
      interval: values.interval as Interval | undefined,
      from: values.from,
      to: values.to,
      symbols: values.symbol,
      window: integer("window", values.window),
      limit: integer("limit", values.limit),
    });
  } else {
    if (positionals.length !== 1 || positionals[0].trim() === "") {
      throw new UsageError(
        'Give one SQL statement in quotes, e.g. deno task query "SELECT * FROM ticks LIMIT 5", or --named <analysis> (see --list).',
      );
    }
    for (const flag of ["interval", "from", "to", "symbol", "window", "limit"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} only applies with --named.`);
    }
    sql = positionals[0];
  }

  let result: QueryResult;
  if (engine === "local") {
    const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
    const local = await openLocalEngine({
      store,
      table: config.table,
      prefix: tablePrefix(config.table),
      cloudOptions: s3CloudOptions({ region: config.region, endpoint: config.endpoint }),
    });
    result = await local.query(sql);
  } else {
    const controller = new AbortController();
    const onInterrupt = () => {
      consoleLogger.warn("Cancelling the Athena query (Ctrl-C again to quit at once)…");
      Deno.removeSignalListener("SIGINT", onInterrupt);
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      result = await queryAthena(sql, {
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
  await Deno.stdout.write(new TextEncoder().encode(formatResult(result, output)));
  const { stats } = result;
  const parts = [`${result.rows.length} rows in ${(stats.elapsedMs / 1000).toFixed(2)} s`];
  if (stats.dataScannedBytes !== undefined) {
    parts.push(
      `scanned ${(stats.dataScannedBytes / 1e6).toFixed(2)} MB, about $${
        stats.costUsd!.toFixed(6)
      } at $5/TB (10 MB minimum)`,
    );
  }
  consoleLogger.info(parts.join("; "));
  return 0;
}

class UsageError extends Error {}

function integer(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} "${text}" is not a whole number.`);
  return Number(text);
}

function flagOf(option: string): string {
  return option === "symbols" ? "--symbol" : `--${option}`;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    consoleLogger.error(message);
    if (error instanceof UsageError || error instanceof ConfigError) {
      console.error('Run "deno task query --help" for usage.');
    }
    Deno.exit(error instanceof Error && error.name === "AthenaQueryCancelledError" ? 130 : 1);
  }
}
