/**
 * Local query time: the named analysis `ohlc` with a monthly interval, run by the project's local
 * engine (Polars SQL over the lake's Parquet objects), next to DuckDB running the same analysis's
 * Athena SQL (DuckDB understands it once `date_format` is defined as `strftime`) on the same files.
 *
 * @module
 */

import { analysisSql } from "../query/analyses.ts";
import { openLocalEngine } from "../query/local.ts";
import { FsStore } from "../lake/fs_store.ts";
import { median } from "./stats.ts";

/** A query-time figure and its DuckDB reference. */
export interface QueryFigure {
  /** Rows in the lake. */
  rows: number;
  /** Rows the analysis returned (symbol × month). */
  groups: number;
  /** Timed runs per engine (after one untimed warm-up). */
  runs: number;
  /** Median time of the local engine (Polars), ms. */
  polarsMs: number;
  /** Median time of DuckDB, ms. */
  duckdbMs: number;
  /** polarsMs / duckdbMs: below 1 means the local engine is faster. */
  ratio: number;
}

/** Options of {@linkcode benchQuery}. */
export interface QueryBenchOptions {
  /** A lake folder holding `ticks/dt=…/*.parquet`. */
  lakeDir: string;
  /** A Python with duckdb installed. */
  python: string;
  /** Timed runs per engine. @default 3 */
  runs?: number;
}

/** Raised when an engine cannot run the analysis or the two engines disagree. */
export class QueryBenchError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "QueryBenchError";
  }
}

const DUCKDB_SCRIPT = `
import json, sys, time, duckdb
lake, runs, sql = sys.argv[1], int(sys.argv[2]), sys.stdin.read()
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute("CREATE MACRO date_format(t, f) AS strftime(t, f)")
con.execute(f"CREATE VIEW ticks AS SELECT * FROM read_parquet('{lake}/ticks/**/*.parquet', hive_partitioning = true)")
rows = con.execute("SELECT COUNT(*) FROM ticks").fetchone()[0]
times = []
for i in range(runs + 1):
    t = time.perf_counter()
    result = con.execute(sql).fetchall()
    if i > 0:
        times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"rows": rows, "groups": len(result), "times": times, "version": duckdb.__version__}))
`;

/**
 * Times the monthly OHLC analysis with the local engine and with DuckDB on the same lake.
 *
 * @example
 * ```ts ignore
 * import { benchQuery } from "./query.ts";
 * const figure = await benchQuery({ lakeDir: "/tmp/bench-lake", python: ".cache/venv/bin/python" });
 * console.log(figure.ratio);
 * ```
 * @throws {QueryBenchError} when DuckDB fails or returns a different number of groups.
 */
export async function benchQuery(options: QueryBenchOptions): Promise<QueryFigure> {
  const runs = options.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(`Query runs must be a whole number of at least 1, got ${runs}.`);
  }
  const engine = await openLocalEngine({ store: new FsStore(options.lakeDir) });
  const sql = analysisSql("ohlc", "local", { interval: "month" });
  const polarsTimes: number[] = [];
  let groups = 0;
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const result = await engine.query(sql);
    if (i > 0) polarsTimes.push(performance.now() - started);
    groups = result.rows.length;
  }
  const duck = await runDuckDb(options, analysisSql("ohlc", "athena", { interval: "month" }), runs);
  if (duck.groups !== groups) {
    throw new QueryBenchError(
      `The engines disagree: Polars returned ${groups} symbol-months, DuckDB ${duck.groups}.`,
    );
  }
  const polarsMs = median(polarsTimes);
  const duckdbMs = median(duck.times);
  return { rows: duck.rows, groups, runs, polarsMs, duckdbMs, ratio: polarsMs / duckdbMs };
}

async function runDuckDb(
  options: QueryBenchOptions,
  sql: string,
  runs: number,
): Promise<{ rows: number; groups: number; times: number[] }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.python, {
      args: ["-c", DUCKDB_SCRIPT, options.lakeDir, String(runs)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new QueryBenchError(
      `Cannot run ${options.python} (${
        (error as Error).message
      }): run \`deno task up\` to create ` +
        "the project's Python environment with duckdb.",
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(sql));
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new QueryBenchError(
      `DuckDB failed: ${new TextDecoder().decode(output.stderr).trim().slice(-1000)}`,
    );
  }
  const line = new TextDecoder().decode(output.stdout).trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new QueryBenchError(`DuckDB printed no result line (got "${line.slice(0, 200)}").`);
  }
}
