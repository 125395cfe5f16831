/**
 * The one shape every query engine returns: typed columns, typed rows, and what the query cost.
 *
 * @module
 */

import pl from "nodejs-polars";

/** The type of a result column, named as in Glue/Athena. */
export type ColumnType = "string" | "double" | "bigint" | "boolean" | "timestamp" | "date";

/** One cell: strings, numbers, booleans, `Date` for timestamps, `YYYY-MM-DD` strings for dates. */
export type Value = string | number | boolean | Date | null;

/** A column of a {@linkcode QueryResult}. */
export interface QueryColumn {
  /** Column name as the query labelled it. */
  name: string;
  /** Its type. */
  type: ColumnType;
}

/** What running a query cost, when the engine reports it. */
export interface QueryStats {
  /** Bytes the engine read (Athena bills on this). */
  dataScannedBytes?: number;
  /** What the scan costs on Athena in US dollars ($5 per TB, 10 MB minimum). */
  costUsd?: number;
  /** Wall-clock time from submission to the last row, in milliseconds. */
  elapsedMs: number;
  /** Athena's query execution id. */
  queryExecutionId?: string;
}

/** The rows a query returned, the same shape from every engine. */
export interface QueryResult {
  /** Which engine ran it. */
  engine: "local" | "athena";
  /** The SQL that ran. */
  sql: string;
  /** Columns in query order. */
  columns: QueryColumn[];
  /** Rows keyed by column name. */
  rows: Record<string, Value>[];
  /** Cost and timing. */
  stats: QueryStats;
}

const POLARS_TYPES: Record<ColumnType, () => pl.DataType> = {
  string: () => pl.Utf8,
  double: () => pl.Float64,
  bigint: () => pl.Int64,
  boolean: () => pl.Bool,
  timestamp: () => pl.Datetime("ms", "UTC"),
  date: () => pl.Utf8,
};

/**
 * Builds a Polars DataFrame from a result, one typed column per result column.
 *
 * @example
 * ```ts
 * import { resultFrame } from "./result.ts";
 * const frame = resultFrame({ engine: "athena", sql: "SELECT 1 AS one", stats: { elapsedMs: 1 },
 *   columns: [{ name: "one", type: "bigint" }], rows: [{ one: 1 }] });
 * frame.height; // 1
 * ```
 */
export function resultFrame(result: QueryResult): pl.DataFrame {
  const series = result.columns.map(({ name, type }) =>
    pl.Series(name, result.rows.map((row) => row[name] ?? null), POLARS_TYPES[type]())
  );
  return pl.DataFrame(series);
}

/** Maps a Polars dtype to the result column type it is shown as. */
export function columnTypeOf(dtype: pl.DataType): ColumnType {
  const name = dtype.variant;
  if (name === "Bool") return "boolean";
  if (/^(U?Int(8|16|32|64))$/.test(name)) return "bigint";
  if (/^Float(32|64)$/.test(name) || name === "Decimal") return "double";
  if (name === "Datetime") return "timestamp";
  if (name === "Date") return "date";
  return "string";
}
