/**
 * The curated table `bars_daily`: one row per symbol and UTC day, aggregated from the ticks of one
 * `dt` partition with Polars.
 *
 * A daily source bar (the Kaggle CSV replayed: one row per symbol and day at 00:00 UTC) needs no
 * special case: the aggregate of one bar is that bar — the same open, high, low, close and volume,
 * `ticks` 1, `first_ts` = `last_ts` = its time, `vwap` its typical price. So the same rule makes a
 * real aggregation of live intraday ticks and a copy of daily bars.
 *
 * @module
 */

import pl from "nodejs-polars";
import { ticksToFrame } from "../lake/encode.ts";
import { PARQUET_COMPRESSION } from "../lake/encode.ts";
import type { Tick } from "../tick.ts";

/** The name of the daily bars table (its folder in the lake and its Glue table). */
export const BARS_DAILY = "bars_daily";

/** A column of a curated table, with its Glue type and what it means. */
export interface CuratedColumn {
  /** Column name. */
  name: string;
  /** Glue / Athena type. */
  type: "string" | "date" | "timestamp" | "double" | "bigint";
  /** What it holds, for the catalog and the README. */
  comment: string;
}

/** The columns of `bars_daily`, in file order (the partition column `dt` is added by the lake). */
export const BARS_DAILY_COLUMNS: readonly CuratedColumn[] = [
  { name: "symbol", type: "string", comment: "index or ticker symbol" },
  { name: "day", type: "date", comment: "UTC day of the bar" },
  { name: "open", type: "double", comment: "open of the day's first tick that has one" },
  { name: "high", type: "double", comment: "highest high of the day" },
  { name: "low", type: "double", comment: "lowest low of the day" },
  { name: "close", type: "double", comment: "close of the day's last tick that has one" },
  { name: "close_usd", type: "double", comment: "close_usd of that last tick (null if none)" },
  { name: "volume", type: "double", comment: "summed volume (null when no tick has one)" },
  {
    name: "vwap",
    type: "double",
    comment: "sum(typical price x volume) / sum(volume); null without volume",
  },
  { name: "ticks", type: "bigint", comment: "number of ticks aggregated" },
  { name: "first_ts", type: "timestamp", comment: "time of the first tick" },
  { name: "last_ts", type: "timestamp", comment: "time of the last tick" },
];

/** `sum` that stays null when every value is null, like SQL's SUM (Polars' gives 0). */
function sqlSum(expr: pl.Expr): pl.Expr {
  return pl.when(expr.count().gt(0)).then(expr.sum()).otherwise(pl.lit(null));
}

/**
 * Aggregates ticks (in any order) into daily bars, sorted by symbol and day. Open is the first
 * non-null open by time, close the last non-null close, high/low the extremes, volume the sum,
 * vwap Σ(typical × volume) / Σ volume with typical = (high + low + close) / 3, or close where
 * high or low is missing — the same rules as the `ohlc` and `vwap` analyses.
 *
 * @example
 * ```ts
 * import { barsDailyFrame } from "./bars_daily.ts";
 * const bars = barsDailyFrame([{ symbol: "NYA", ts: Date.UTC(2021, 4, 31, 9), open: 1, high: 2,
 *   low: 1, close: 2, adj_close: 2, volume: 10, close_usd: 2 }]);
 * bars.height; // 1
 * ```
 */
export function barsDailyFrame(ticks: readonly Tick[] | pl.DataFrame): pl.DataFrame {
  const frame = Array.isArray(ticks) ? ticksToFrame(ticks) : ticks as pl.DataFrame;
  const close = pl.col("close");
  const hlc = pl.col("high").plus(pl.col("low")).plus(close).div(3);
  const typical = pl.when(hlc.isNull()).then(close).otherwise(hlc);
  const volume = sqlSum(pl.col("volume"));
  return frame
    // Ticks at the same time keep the lake's order (object key, then row): same input, same bars.
    .sort({ by: ["symbol", "ts"], maintainOrder: true })
    .withColumns(pl.col("ts").cast(pl.Date).alias("day"), typical.mul(pl.col("volume")).alias("_w"))
    .groupBy(["symbol", "day"])
    .agg(
      pl.col("open").dropNulls().first().alias("open"),
      pl.col("high").max().alias("high"),
      pl.col("low").min().alias("low"),
      close.dropNulls().last().alias("close"),
      pl.col("close_usd").filter(close.isNotNull()).last().alias("close_usd"),
      volume.alias("volume"),
      pl.when(volume.eq(0).or(volume.isNull())).then(pl.lit(null))
        .otherwise(sqlSum(pl.col("_w")).div(volume)).alias("vwap"),
      pl.len().cast(pl.Int64).alias("ticks"),
      pl.col("ts").min().alias("first_ts"),
      pl.col("ts").max().alias("last_ts"),
    )
    .sort(["symbol", "day"])
    .select(...BARS_DAILY_COLUMNS.map((c) => castColumn(c)));
}

function castColumn(column: CuratedColumn): pl.Expr {
  const types = {
    string: pl.Utf8,
    date: pl.Date,
    timestamp: pl.Datetime("ms", "UTC"),
    double: pl.Float64,
    bigint: pl.Int64,
  };
  return pl.col(column.name).cast(types[column.type]);
}

/** Encodes a curated frame as a Parquet object (Snappy, like the ticks); same frame, same bytes. */
export function encodeCurated(frame: pl.DataFrame): Uint8Array {
  const buffer = frame.writeParquet({ compression: PARQUET_COMPRESSION });
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Reads a curated Parquet object back into a frame. */
export function decodeCurated(bytes: Uint8Array): pl.DataFrame {
  return pl.readParquet(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
