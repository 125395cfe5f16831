/**
 * `deno task transform`: build the curated tables `bars_daily` and `symbols` from `ticks`, only
 * for the `dt` partitions whose ticks changed since the last run (`--full` rebuilds them all).
 *
 * ```sh
 * deno task transform
 * deno task transform --lake s3://bucket/prefix --from 2021-05-01 --to 2021-05-31
 * deno task transform --full
 * ```
 *
 * @module
 */

import { type ParsedFlags, runCommand, stringFlag, UsageError } from "../lib/cli.ts";
import { ConfigError, configFlags, loadConfig } from "../lib/config.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger } from "../lib/log.ts";
import { terminalProgress } from "../lib/progress.ts";
import {
  BARS_DAILY,
  catalogCurated,
  SYMBOLS,
  TransformError,
  transformLake,
} from "../lib/transform/mod.ts";

const COMMAND = {
  usage: "deno task transform [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--full] [flags]",
  about:
    `Builds the curated tables from the raw "ticks": ${BARS_DAILY} (one row per symbol and UTC day, in
the same dt= partitions) and ${SYMBOLS} (data/symbols.csv joined with the lake's last closes).
Only partitions whose ticks changed since the last run are rebuilt; a rerun writes nothing.
Run it after "deno task consume" (e.g. from cron), then "deno task crawl" to catalog the tables
(or --glue on an S3 lake that Athena reads: a rebuilt day must be re-registered in Glue).`,
  flags: {
    from: { type: "string", description: "First dt partition considered, YYYY-MM-DD" },
    to: { type: "string", description: "Last dt partition considered, YYYY-MM-DD" },
    full: {
      type: "boolean",
      description: "Rebuild every partition in range (writes only what differs)",
    },
    symbols: {
      type: "string",
      description: "CSV of symbol,name,exchange,country,currency",
      default: "data/symbols.csv",
    },
    verbose: { type: "boolean", description: "Print a line per rebuilt partition" },
    glue: {
      type: "boolean",
      description:
        "Also define the tables in Glue for Athena (an s3:// lake), as crawl --target aws",
    },
    ...configFlags("lake", "database", "region", "endpoint"),
  },
} as const;

async function transform({ values }: ParsedFlags): Promise<void> {
  const config = loadConfig({ flags: values });
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  if (values.glue && !store.uri.startsWith("s3://")) {
    throw new ConfigError(
      `--glue needs an s3:// lake (Athena reads S3 only), but the lake is "${store.uri}": ` +
        "drop --glue, or pass --lake s3://bucket/prefix.",
    );
  }
  const progress = terminalProgress();
  const report = await transformLake({
    store,
    from: stringFlag("from", values.from),
    to: stringFlag("to", values.to),
    full: values.full === true,
    symbolsFile: stringFlag("symbols", values.symbols),
    logger: consoleLogger,
    onPartition: ({ done, total, dt }) => {
      if (values.verbose) consoleLogger.info(`${BARS_DAILY} dt=${dt}: rebuilt (${done}/${total})`);
      else progress.update(`${BARS_DAILY}: ${done}/${total} partitions rebuilt (last dt=${dt})`);
    },
  });
  if (values.glue) {
    await catalogCurated({
      store,
      target: "aws",
      database: config.database,
      region: config.region,
      endpoint: config.endpoint,
      logger: consoleLogger,
    });
  }
  progress.done(
    `${BARS_DAILY}: ${report.rebuilt.length} of ${report.partitions} partition(s) rebuilt, ` +
      `${report.written.length} written (${report.rows} rows), ${report.removed.length} removed, ` +
      `${report.collected.length} replaced object(s) deleted; ` +
      `${SYMBOLS}: ${report.symbols}; ${(report.elapsedMs / 1000).toFixed(2)} s.`,
  );
}

if (import.meta.main) {
  runCommand(COMMAND, transform, {
    explain: (error) =>
      (error as Error)?.message +
      (error instanceof UsageError || error instanceof ConfigError ||
          error instanceof TransformError
        ? '\nRun "deno task transform --help" for usage.'
        : ""),
  });
}
