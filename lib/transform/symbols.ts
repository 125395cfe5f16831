/**
 * The curated dimension `symbols`: what each symbol is (name, exchange, country, currency —
 * shipped as `data/symbols.csv`) joined with what the lake has seen of it (first and last day,
 * days with a bar, last close in local currency and in US dollars where the source gives
 * `close_usd`).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { CuratedColumn } from "./bars_daily.ts";

/** The name of the symbol dimension (its folder in the lake and its Glue table). */
export const SYMBOLS = "symbols";

/** The columns of `symbols`, in file order (the table has no partitions). */
export const SYMBOLS_COLUMNS: readonly CuratedColumn[] = [
  { name: "symbol", type: "string", comment: "index or ticker symbol" },
  { name: "name", type: "string", comment: "its name (null when data/symbols.csv lacks it)" },
  { name: "exchange", type: "string", comment: "exchange it is listed on" },
  { name: "country", type: "string", comment: "country or region" },
  { name: "currency", type: "string", comment: "ISO code of its prices" },
  { name: "first_day", type: "date", comment: "first day with a bar in the lake" },
  { name: "last_day", type: "date", comment: "last day with a bar in the lake" },
  { name: "days", type: "bigint", comment: "days with a bar in the lake" },
  { name: "last_close", type: "double", comment: "close of the last day, local currency" },
  { name: "last_close_usd", type: "double", comment: "the same in US dollars, where given" },
];

/** One line of `data/symbols.csv`. */
export interface SymbolInfo {
  /** The symbol, e.g. `HSI`. */
  symbol: string;
  /** Its name, e.g. `Hang Seng Index`. */
  name: string;
  /** The exchange, e.g. `Hong Kong Stock Exchange`. */
  exchange: string;
  /** Country or region, e.g. `Hong Kong`. */
  country: string;
  /** ISO currency code of its prices, e.g. `HKD`. */
  currency: string;
}

/** The file shipped with the project: the 14 indices of the Kaggle "Stock Exchange Data" set. */
export const DEFAULT_SYMBOLS_FILE = new URL("../../data/symbols.csv", import.meta.url);

const HEADER = ["symbol", "name", "exchange", "country", "currency"] as const;

/** Raised for a symbols file that cannot be used; the message names the file, line and fix. */
export class SymbolsFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SymbolsFileError";
  }
}

/**
 * Parses a symbols CSV: header `symbol,name,exchange,country,currency`, one symbol a line, no
 * quoted fields (names hold no commas).
 *
 * @example
 * ```ts
 * import { parseSymbolInfo } from "./symbols.ts";
 * parseSymbolInfo("symbol,name,exchange,country,currency\nHSI,Hang Seng Index,HKEX,Hong Kong,HKD\n", "x.csv");
 * // [{ symbol: "HSI", name: "Hang Seng Index", exchange: "HKEX", country: "Hong Kong", currency: "HKD" }]
 * ```
 * @throws {SymbolsFileError} for a wrong header, a line with another field count, an empty or
 * repeated symbol.
 */
export function parseSymbolInfo(text: string, file: string): SymbolInfo[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  if (lines[0]?.trim() !== HEADER.join(",")) {
    throw new SymbolsFileError(
      `${file}: line 1 is ${JSON.stringify(lines[0] ?? "")}, expected the header ${
        HEADER.join(",")
      }.`,
    );
  }
  const seen = new Set<string>();
  return lines.slice(1).map((line, i) => {
    const fields = line.split(",").map((f) => f.trim());
    const where = `${file}: line ${i + 2}`;
    if (fields.length !== HEADER.length) {
      throw new SymbolsFileError(
        `${where} has ${fields.length} fields, expected ${HEADER.length} (${HEADER.join(",")}); ` +
          "names must not contain commas.",
      );
    }
    const [symbol, name, exchange, country, currency] = fields;
    if (symbol === "") throw new SymbolsFileError(`${where} has an empty symbol.`);
    if (seen.has(symbol)) throw new SymbolsFileError(`${where} repeats symbol ${symbol}.`);
    seen.add(symbol);
    return { symbol, name, exchange, country, currency };
  });
}

/** Reads a symbols CSV (default: the shipped `data/symbols.csv`). */
export async function loadSymbolInfo(
  file: string | URL = DEFAULT_SYMBOLS_FILE,
): Promise<SymbolInfo[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new SymbolsFileError(
      `Cannot read the symbols file ${String(file)}: ${(error as Error).message}. ` +
        "Pass an existing CSV (symbol,name,exchange,country,currency).",
    );
  }
  return parseSymbolInfo(text, String(file));
}

/**
 * Builds the `symbols` table: every symbol of `info` and every symbol the bars have seen (those
 * missing from `info` get null name, exchange, country and currency), sorted by symbol.
 *
 * @param bars rows of `bars_daily` (at least `symbol`, `day`, `close`, `close_usd`), any order.
 */
export function symbolsFrame(info: readonly SymbolInfo[], bars: pl.DataFrame): pl.DataFrame {
  const seen = new Map<string, Record<string, unknown>>();
  if (bars.height > 0) {
    const summary = bars
      .sort(["symbol", "day"])
      .groupBy("symbol")
      .agg(
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_day"),
        pl.len().cast(pl.Int64).alias("days"),
        pl.col("close").dropNulls().last().alias("last_close"),
        pl.col("close_usd").filter(pl.col("close").isNotNull()).last().alias("last_close_usd"),
      );
    for (const row of summary.toRecords()) seen.set(String(row.symbol), row);
  }
  const known = new Map(info.map((i) => [i.symbol, i]));
  const symbols = [...new Set([...known.keys(), ...seen.keys()])].sort();
  const column = (name: string, pick: (symbol: string) => unknown, type: pl.DataType) =>
    pl.Series(name, symbols.map((s) => pick(s) ?? null), type);
  const infoOf = (field: keyof SymbolInfo) => (s: string) => known.get(s)?.[field];
  const seenOf = (field: string) => (s: string) => seen.get(s)?.[field];
  return pl.DataFrame([
    column("symbol", (s) => s, pl.Utf8),
    column("name", infoOf("name"), pl.Utf8),
    column("exchange", infoOf("exchange"), pl.Utf8),
    column("country", infoOf("country"), pl.Utf8),
    column("currency", infoOf("currency"), pl.Utf8),
    column("first_day", seenOf("first_day"), pl.Date),
    column("last_day", seenOf("last_day"), pl.Date),
    column("days", (s) => numberOrNull(seen.get(s)?.days), pl.Int64),
    column("last_close", seenOf("last_close"), pl.Float64),
    column("last_close_usd", seenOf("last_close_usd"), pl.Float64),
  ]);
}

function numberOrNull(value: unknown): number | null {
  return value === undefined || value === null ? null : Number(value);
}
