/**
 * Local query time: the named analysis `ohlc` with a monthly interval, run by the project's local
 * engine (Polars SQL over the lake's Parquet objects), next to DuckDB running its own best SQL for
 * the same analysis ({@linkcode DUCKDB_OHLC_MONTH}: `arg_min`/`arg_max` instead of the window
 * functions the portable SQL needs) on the same files. The two results are compared value by value.
 *
 * To show where Polars' time goes, both engines also time a plain aggregate over the same rows
 * (high, low, volume and count per symbol and month, no first/last), each grouping by its own
 * month key as in its OHLC: the difference between it and the OHLC is the cost of picking each
 * month's first open and last close.
 *
 * @module
 */

import { analysisSql, periodKey, periodText } from "../query/analyses.ts";
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
  /** Every timed run of each engine, ms. */
  polarsRuns: number[];
  /** Every timed run of DuckDB, ms. */
  duckdbRuns: number[];
  /** Median time of the plain aggregate (no first/last) in Polars, ms. */
  polarsPlainMs: number;
  /** Median time of the plain aggregate in DuckDB, ms. */
  duckdbPlainMs: number;
  /** Values compared between the engines (all equal, else {@linkcode QueryBenchError}). */
  valuesCompared: number;
  /** DuckDB's version. */
  duckdbVersion: string;
}

/**
 * DuckDB's best form of the monthly OHLC: `arg_min(open, ts)` / `arg_max(close, ts)` (which skip
 * null prices, as the analysis does) in one grouped pass over `date_trunc('month', ts)`, the month
 * formatted as text after the aggregation (formatting every row took DuckDB nearly twice as long).
 */
export const DUCKDB_OHLC_MONTH =
  `SELECT symbol, strftime(period, '%Y-%m-%d') AS period, open, high, low, close, volume, bars
FROM (
  SELECT symbol, date_trunc('month', ts) AS period, arg_min(open, ts) AS open, MAX(high) AS high,
    MIN(low) AS low, arg_max(close, ts) AS close, SUM(volume) AS volume, COUNT(*) AS bars
  FROM ticks GROUP BY ALL
) ORDER BY symbol, period`;

/** A plain monthly aggregate (no first/last) grouping by `key`, the month formatted by `text`. */
function plainMonth(key: string, text: string): string {
  return `SELECT symbol, ${text} AS period, high, low, volume, bars
FROM (
  SELECT symbol, ${key} AS period, MAX(high) AS high, MIN(low) AS low, SUM(volume) AS volume,
    COUNT(*) AS bars
  FROM ticks GROUP BY symbol, period
) ORDER BY symbol, period`;
}

/** The plain aggregate Polars times: the month key and text of the named analysis. */
const POLARS_PLAIN_MONTH = plainMonth(periodKey("local", "month"), periodText("local"));

/** The plain aggregate DuckDB times: the month key and text of {@linkcode DUCKDB_OHLC_MONTH}. */
const DUCKDB_PLAIN_MONTH = plainMonth("date_trunc('month', ts)", "strftime(period, '%Y-%m-%d')");

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
lake, runs = sys.argv[1], int(sys.argv[2])
sql, plain = sys.stdin.read().split("\\n;\\n")
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW ticks AS SELECT * FROM read_parquet('{lake}/ticks/**/*.parquet', hive_partitioning = true)")
rows = con.execute("SELECT COUNT(*) FROM ticks").fetchone()[0]
def timed(q):
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        result = con.execute(q).fetchall()
        if i > 0:
            times.append((time.perf_counter() - t) * 1000)
    return result, times
result, times = timed(sql)
_, plain_times = timed(plain)
print(json.dumps({"rows": rows, "result": [list(r) for r in result], "times": times,
  "plainTimes": plain_times, "version": duckdb.__version__}))
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
 * @throws {QueryBenchError} when DuckDB fails or the engines' results differ in any value.
 */
export async function benchQuery(options: QueryBenchOptions): Promise<QueryFigure> {
  const runs = options.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(`Query runs must be a whole number of at least 1, got ${runs}.`);
  }
  const engine = await openLocalEngine({ store: new FsStore(options.lakeDir) });
  const timed = async (sql: string) => {
    const times: number[] = [];
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i <= runs; i++) {
      const started = performance.now();
      rows = (await engine.query(sql)).rows;
      if (i > 0) times.push(performance.now() - started);
    }
    return { rows, times };
  };
  const polars = await timed(analysisSql("ohlc", "local", { interval: "month" }));
  const polarsPlain = await timed(POLARS_PLAIN_MONTH);
  const duck = await runDuckDb(options, `${DUCKDB_OHLC_MONTH}\n;\n${DUCKDB_PLAIN_MONTH}`, runs);
  const valuesCompared = compareResults(polars.rows, duck.result);
  const polarsMs = median(polars.times);
  const duckdbMs = median(duck.times);
  return {
    rows: duck.rows,
    groups: polars.rows.length,
    runs,
    polarsMs,
    duckdbMs,
    ratio: polarsMs / duckdbMs,
    polarsRuns: polars.times,
    duckdbRuns: duck.times,
    polarsPlainMs: median(polarsPlain.times),
    duckdbPlainMs: median(duck.plainTimes),
    valuesCompared,
    duckdbVersion: duck.version,
  };
}

const OHLC_COLUMNS = ["symbol", "period", "open", "high", "low", "close", "volume", "bars"];

/**
 * Compares Polars' OHLC rows with DuckDB's, value by value (numbers to 1e-9 relative), and returns
 * how many values were compared.
 *
 * @example
 * ```ts
 * import { compareResults } from "./query.ts";
 * compareResults(
 *   [{ symbol: "A", period: "2007-10-01", open: 1, high: 2, low: 0.5, close: 1.5, volume: 10n, bars: 2 }],
 *   [["A", "2007-10-01", 1, 2, 0.5, 1.5, 10, 2]],
 * ); // 8
 * ```
 * @throws {QueryBenchError} naming the first row and column that differ.
 */
export function compareResults(polars: Record<string, unknown>[], duckdb: unknown[][]): number {
  if (polars.length !== duckdb.length) {
    throw new QueryBenchError(
      `The engines disagree: Polars returned ${polars.length} symbol-months, DuckDB ${duckdb.length}.`,
    );
  }
  let compared = 0;
  for (let i = 0; i < polars.length; i++) {
    OHLC_COLUMNS.forEach((column, c) => {
      const ours = polars[i][column];
      const theirs = duckdb[i][c];
      compared++;
      if (sameValue(ours, theirs)) return;
      throw new QueryBenchError(
        `The engines disagree at row ${i} (${polars[i].symbol} ${polars[i].period}), ${column}: ` +
          `Polars ${String(ours)}, DuckDB ${String(theirs)}.`,
      );
    });
  }
  return compared;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  if (typeof a === "string" || typeof b === "string") return String(a) === String(b);
  const x = Number(a), y = Number(b);
  return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

async function runDuckDb(
  options: QueryBenchOptions,
  sql: string,
  runs: number,
): Promise<
  { rows: number; result: unknown[][]; times: number[]; plainTimes: number[]; version: string }
> {
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
