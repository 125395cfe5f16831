/**
 * Named analyses of the lake, each written once per engine (Polars SQL locally, Trino SQL on
 * Athena) so both return the same rows in the same order.
 *
 * The two dialects differ: Polars SQL has no `date_trunc` and no `ROWS BETWEEN` frames, Athena
 * has no `STRFTIME`. Where they differ only the period changes (its key: a `DATE` locally,
 * `date_trunc` on Athena; and its text, formatted after the aggregation); everything else
 * (window functions, LAG, CASE, aggregates) is shared text. The moving average sums `LAG`s instead of
 * using a window frame, in both engines, so they add the same numbers in the same order.
 *
 * @module
 */

/** Which SQL dialect to write: `local` (Polars SQL) or `athena` (Trino). */
export type Engine = "local" | "athena";

/** Bucket of time the OHLC and VWAP analyses group by (UTC; weeks start on Monday). */
export type Interval = "day" | "week" | "month";

/** Every {@linkcode Interval}. */
export const INTERVALS: readonly Interval[] = ["day", "week", "month"];

/**
 * What an analysis reads: the raw `ticks`, or the curated daily bars `bars_daily` (built by
 * `deno task transform`; one row per symbol and day, so far fewer rows for the same numbers).
 */
export type AnalysisSource = "ticks" | "bars_daily";

/** Every {@linkcode AnalysisSource}. */
export const ANALYSIS_SOURCES: readonly AnalysisSource[] = ["ticks", "bars_daily"];

/** Settings of a named analysis; each analysis reads the ones it needs. */
export interface AnalysisOptions {
  /** Table name in SQL (of the ticks; `source: "bars_daily"` reads `bars_daily`). @default "ticks" */
  table?: string;
  /**
   * Read the daily bars instead of the ticks, where the analysis can (`ohlc`, `vwap`: the same
   * numbers, see {@linkcode Analysis.sources}). @default "ticks"
   */
  source?: AnalysisSource;
  /** Bucket of time for `ohlc` and `vwap`. @default "day" for ohlc, "month" for vwap */
  interval?: Interval;
  /** First day included, `YYYY-MM-DD` (filters the `dt` partition, so Athena reads less). */
  from?: string;
  /** Last day included, `YYYY-MM-DD`. */
  to?: string;
  /** Only these symbols. @default all */
  symbols?: string[];
  /** Bars in the simple moving average (1-200). @default 20 */
  window?: number;
  /** Rows `movers` returns (1-10000). @default 10 */
  limit?: number;
}

/** A named analysis: what it answers and its SQL for each engine. */
export interface Analysis {
  /** The name used with `--named`. */
  name: AnalysisName;
  /** One line saying what it returns. */
  description: string;
  /** The options it reads (for `--help`). */
  options: (keyof AnalysisOptions)[];
  /** The sources it can read; `bars_daily` gives the same numbers as `ticks`. */
  sources: readonly AnalysisSource[];
  /** Its SQL for an engine. @throws {AnalysisError} for bad options. */
  sql(engine: Engine, options?: AnalysisOptions): string;
}

/** Names of the analyses. */
export type AnalysisName = "latest" | "ohlc" | "movers" | "vwap" | "sma";

/** Raised for an unknown analysis or an option it cannot use; the message says what is accepted. */
export class AnalysisError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AnalysisError";
  }
}

const PRICES = "open, high, low, close, adj_close, volume, close_usd";

/**
 * The start of the period holding the timestamp column `ts` (a daily bar: its `first_ts`, which
 * lies in the bar's day), as a value to group by: a `DATE` locally, a truncated timestamp on
 * Athena. Queries group by this key and format it ({@linkcode periodText}) only after the
 * aggregation: formatting every row as text (`STRFTIME` per row) was most of Polars' time.
 *
 * @example
 * ```ts
 * import { periodKey } from "./analyses.ts";
 * periodKey("athena", "week"); // "date_trunc('week', ts)"
 * ```
 */
export function periodKey(engine: Engine, interval: Interval, ts = "ts"): string {
  if (engine === "athena") return `date_trunc('${interval}', ${ts})`;
  const day = `CAST(${ts} AS DATE)`;
  if (interval === "day") return day;
  const unit = interval === "month" ? "day" : "isodow";
  return `${day} - INTERVAL '1 day' * (EXTRACT(${unit} FROM ${ts}) - 1)`;
}

/**
 * A {@linkcode periodKey} column as `YYYY-MM-DD` text, in each dialect.
 *
 * @example
 * ```ts
 * import { periodKey, periodText } from "./analyses.ts";
 * const sql = `SELECT ${periodText("local", "p")} AS period FROM (SELECT ${periodKey("local", "month")} AS p FROM ticks)`;
 * ```
 */
export function periodText(engine: Engine, key = "period"): string {
  return engine === "athena" ? `date_format(${key}, '%Y-%m-%d')` : `STRFTIME(${key}, '%Y-%m-%d')`;
}

/** The source an analysis reads, checked against the ones it can. */
function source(options: AnalysisOptions, name: AnalysisName): AnalysisSource {
  const value = options.source ?? "ticks";
  const sources = ANALYSES[name].sources;
  if (!sources.includes(value)) {
    throw new AnalysisError(
      `--source "${value}" is not known for ${name}: use ${sources.join(" or ")}.`,
    );
  }
  return value;
}

function where(options: AnalysisOptions): string {
  const conditions: string[] = [];
  if (options.from !== undefined) conditions.push(`dt >= '${checkDate("from", options.from)}'`);
  if (options.to !== undefined) conditions.push(`dt <= '${checkDate("to", options.to)}'`);
  if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
    throw new AnalysisError(`--from ${options.from} is after --to ${options.to}: swap them.`);
  }
  if (options.symbols !== undefined) {
    if (options.symbols.length === 0 || options.symbols.some((s) => s.trim() === "")) {
      throw new AnalysisError("--symbol needs a non-empty symbol such as NYA.");
    }
    conditions.push(`symbol IN (${options.symbols.map(quote).join(", ")})`);
  }
  return conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function checkDate(flag: string, value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new AnalysisError(`--${flag} "${value}" is not a date: use YYYY-MM-DD, e.g. 2021-05-31.`);
  }
  return value;
}

function checkInteger(flag: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AnalysisError(
      `--${flag} ${value} is out of range: use a whole number ${min}-${max}.`,
    );
  }
  return value;
}

function table(options: AnalysisOptions): string {
  const name = options.table ?? "ticks";
  if (!/^[a-z0-9_]{1,255}$/.test(name)) {
    throw new AnalysisError(
      `Table "${name}" is not valid: use lower-case letters, digits and '_'.`,
    );
  }
  return name;
}

function interval(options: AnalysisOptions, fallback: Interval): Interval {
  const value = options.interval ?? fallback;
  if (!INTERVALS.includes(value)) {
    throw new AnalysisError(`--interval "${value}" is not known: use ${INTERVALS.join(", ")}.`);
  }
  return value;
}

const latest: Analysis = {
  name: "latest",
  description: "The latest bar of each symbol (its last quote).",
  options: ["from", "to", "symbols"],
  sources: ["ticks"],
  sql(_engine, options = {}) {
    source(options, "latest");
    return `WITH ranked AS (
  SELECT symbol, ts, ${PRICES},
    ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY ts DESC) AS rn
  FROM ${table(options)} ${where(options)}
)
SELECT symbol, ts, ${PRICES}
FROM ranked
WHERE rn = 1
ORDER BY symbol`;
  },
};

const ohlc: Analysis = {
  name: "ohlc",
  description:
    "Open (of the first bar that has one), high, low, close (of the last bar), summed volume and bar count per symbol per day, week or month; period is the first day of the bucket (UTC, weeks from Monday).",
  options: ["interval", "from", "to", "symbols", "source"],
  sources: ["ticks", "bars_daily"],
  sql(engine, options = {}) {
    const period = (ts: string) => periodKey(engine, interval(options, "day"), ts);
    const text = periodText(engine);
    if (source(options, "ohlc") === "bars_daily") {
      // The same rules one level up: a day's open is already its first non-null open, its close
      // its last non-null close; bars are the summed tick counts.
      return ohlcSql({
        from: "bars_daily",
        ts: "first_ts",
        period: period("first_ts"),
        text,
        bars: "ticks",
      }, options);
    }
    return ohlcSql({ from: table(options), ts: "ts", period: period("ts"), text }, options);
  },
};

/**
 * The `ohlc` query over rows with open/high/low/close/volume and a time column `ts` (ticks, or
 * daily bars by `first_ts`); `period` is its {@linkcode periodKey}, `text` formats that key;
 * `bars` names a column holding each row's tick count (none: one each).
 */
function ohlcSql(
  rows: { from: string; ts: string; period: string; text: string; bars?: string },
  options: AnalysisOptions,
): string {
  const { from, ts, period, text, bars } = rows;
  const columns = `symbol, ${ts}, open, high, low, close, volume${bars ? `, ${bars}` : ""}`;
  // The first open and last close are found with MIN/MAX windows over each group (a hash
  // aggregate) rather than ROW_NUMBER (a sort within every group), which took Polars half again
  // as long for the same rows. Rows sharing the first (last) time give their largest price.
  return `WITH bucketed AS (
  SELECT ${columns}, ${period} AS period
  FROM ${from} ${where(options)}
), marked AS (
  SELECT ${columns}, period,
    MIN(CASE WHEN open IS NOT NULL THEN ${ts} END) OVER (PARTITION BY symbol, period) AS open_ts,
    MAX(CASE WHEN close IS NOT NULL THEN ${ts} END) OVER (PARTITION BY symbol, period) AS close_ts
  FROM bucketed
), grouped AS (
  SELECT symbol, period,
    MAX(CASE WHEN ${ts} = open_ts THEN open END) AS open,
    MAX(high) AS high,
    MIN(low) AS low,
    MAX(CASE WHEN ${ts} = close_ts THEN close END) AS close,
    SUM(volume) AS volume,
    ${bars ? `SUM(${bars})` : "COUNT(*)"} AS bars
  FROM marked
  GROUP BY symbol, period
)
SELECT symbol, ${text} AS period, open, high, low, close, volume, bars
FROM grouped
ORDER BY symbol, period`;
}

const movers: Analysis = {
  name: "movers",
  description:
    "Symbols ranked by the size of their move between the first and last close of the period (largest absolute % change first).",
  options: ["from", "to", "symbols", "limit"],
  sources: ["ticks"],
  sql(_engine, options = {}) {
    source(options, "movers");
    const limit = checkInteger("limit", options.limit ?? 10, 1, 10_000);
    // MIN/MAX windows (a hash aggregate) rather than ROW_NUMBER (a sort), as in ohlc.
    return `WITH marked AS (
  SELECT symbol, ts, close,
    MIN(ts) OVER (PARTITION BY symbol) AS first_ts,
    MAX(ts) OVER (PARTITION BY symbol) AS last_ts
  FROM ${table(options)} ${where(options)}
), ends AS (
  SELECT symbol,
    MIN(first_ts) AS first_ts,
    MAX(last_ts) AS last_ts,
    MAX(CASE WHEN ts = first_ts THEN close END) AS first_close,
    MAX(CASE WHEN ts = last_ts THEN close END) AS last_close
  FROM marked
  GROUP BY symbol
)
SELECT symbol, first_ts, last_ts, first_close, last_close,
  last_close - first_close AS change,
  (last_close - first_close) / first_close * 100 AS change_pct
FROM ends
WHERE first_close > 0
ORDER BY ABS((last_close - first_close) / first_close) DESC, symbol
LIMIT ${limit}`;
  },
};

const vwap: Analysis = {
  name: "vwap",
  description:
    "Volume-weighted average price per symbol per day, week or month: sum(typical price × volume) / sum(volume), typical price (high + low + close) / 3 (close when high or low is missing); null when no volume traded.",
  options: ["interval", "from", "to", "symbols", "source"],
  sources: ["ticks", "bars_daily"],
  sql(engine, options = {}) {
    if (source(options, "vwap") === "bars_daily") {
      // A day's vwap × its volume is its Σ(typical × volume); days without volume add nothing.
      return `WITH priced AS (
  SELECT symbol, volume, vwap * volume AS weighted, ticks,
    ${periodKey(engine, interval(options, "month"), "first_ts")} AS period
  FROM bars_daily ${where(options)}
), grouped AS (
  SELECT symbol, period,
    SUM(weighted) / NULLIF(SUM(volume), 0) AS vwap,
    SUM(volume) AS volume,
    SUM(ticks) AS bars
  FROM priced
  GROUP BY symbol, period
)
SELECT symbol, ${periodText(engine)} AS period, vwap, volume, bars
FROM grouped
ORDER BY symbol, period`;
    }
    const period = periodKey(engine, interval(options, "month"));
    return `WITH priced AS (
  SELECT symbol, volume, COALESCE((high + low + close) / 3, close) AS typical, ${period} AS period
  FROM ${table(options)} ${where(options)}
), grouped AS (
  SELECT symbol, period,
    SUM(typical * volume) / NULLIF(SUM(volume), 0) AS vwap,
    SUM(volume) AS volume,
    COUNT(*) AS bars
  FROM priced
  GROUP BY symbol, period
)
SELECT symbol, ${periodText(engine)} AS period, vwap, volume, bars
FROM grouped
ORDER BY symbol, period`;
  },
};

const sma: Analysis = {
  name: "sma",
  description:
    "Simple moving average of close over the last N bars of each symbol (null until N bars are seen within the filtered range).",
  options: ["window", "from", "to", "symbols"],
  sources: ["ticks"],
  sql(_engine, options = {}) {
    source(options, "sma");
    const window = checkInteger("window", options.window ?? 20, 1, 200);
    const over = "OVER (PARTITION BY symbol ORDER BY ts)";
    const terms = ["close"];
    for (let lag = 1; lag < window; lag++) terms.push(`LAG(close, ${lag}) ${over}`);
    return `WITH lagged AS (
  SELECT symbol, ts, close,
    ROW_NUMBER() ${over} AS n,
    ${terms.join("\n      + ")} AS total
  FROM ${table(options)} ${where(options)}
)
SELECT symbol, ts, close,
  CASE WHEN n >= ${window} THEN total / ${window} END AS sma
FROM lagged
ORDER BY symbol, ts`;
  },
};

/** Every named analysis by name. */
export const ANALYSES: Readonly<Record<AnalysisName, Analysis>> = {
  latest,
  ohlc,
  movers,
  vwap,
  sma,
};

/**
 * The SQL of a named analysis for an engine.
 *
 * @example
 * ```ts
 * import { analysisSql } from "./analyses.ts";
 * const sql = analysisSql("ohlc", "local", { interval: "month", from: "2021-01-01" });
 * ```
 * @throws {AnalysisError} for an unknown name or a bad option, saying what is accepted.
 */
export function analysisSql(name: string, engine: Engine, options: AnalysisOptions = {}): string {
  if (!Object.hasOwn(ANALYSES, name)) {
    throw new AnalysisError(
      `Unknown analysis "${name}": use one of ${Object.keys(ANALYSES).join(", ")}.`,
    );
  }
  return ANALYSES[name as AnalysisName].sql(engine, options);
}
