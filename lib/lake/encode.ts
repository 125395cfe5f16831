/**
 * Turns ticks into lake objects and back: Parquet (Snappy-compressed, but for the columns Snappy
 * cannot shrink, such as prices) and JSON Lines (optionally gzipped). Parquet is written by the
 * pure-TypeScript {@linkcode writeParquet} (a 5-row object in well under a millisecond;
 * nodejs-polars' writer costs 4–5 ms per object) and read by nodejs-polars.
 *
 * Parquet columns, in order: `symbol` (UTF-8 string), `ts` (INT64 timestamp, milliseconds,
 * adjusted to UTC), then `open`, `high`, `low`, `close`, `adj_close`, `volume`, `close_usd`
 * (nullable doubles). Athena/Glue read this as `string`, `timestamp` and `double`; Polars as
 * `String`, `Datetime("ms", "UTC")` and `Float64`, alike for objects written by earlier versions
 * through Polars.
 *
 * @module
 */

import pl from "nodejs-polars";
import { gunzipSync, gzipSync } from "node:zlib";
import { decodeTick, encodeTick, InvalidTickError, PRICE_COLUMNS, type Tick } from "../tick.ts";
import { extensionFor, FORMAT_EXTENSIONS, formatFor, type LakeFormat } from "./layout.ts";
import { writeParquet } from "./parquet_write.ts";
import { columnsToTicks, type TickColumns, ticksToColumns } from "./tick_rows.ts";

export { extensionFor, FORMAT_EXTENSIONS, formatFor, type LakeFormat };

/** Raised when bytes cannot be decoded as lake objects; the message says what was wrong. */
export class DecodeError extends Error {
  /** Creates the error, keeping the underlying cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DecodeError";
  }
}

/**
 * Parquet compression codec of the objects Polars writes (the daily bars): Snappy, the codec every
 * Athena/Glue version reads. Tick objects choose per column (`codecFor` in `parquet_write.ts`).
 */
export const PARQUET_COMPRESSION = "snappy";

/**
 * Encodes ticks as one Parquet file (Snappy where it shrinks a column, with min/max statistics; see
 * the module docs).
 *
 * @example
 * ```ts
 * import { encodeParquet } from "./encode.ts";
 * const bytes = encodeParquet([{ symbol: "NYA", ts: Date.UTC(2021, 4, 31), open: 1, high: 2,
 *   low: 1, close: 2, adj_close: 2, volume: 0, close_usd: 2 }]);
 * ```
 */
export function encodeParquet(ticks: readonly Tick[]): Uint8Array {
  return encodeParquetColumns(ticksToColumns(ticks));
}

/**
 * Encodes ticks held as columns ({@linkcode TickColumns}) as one Parquet file, as
 * {@linkcode encodeParquet} does.
 *
 * @example
 * ```ts
 * import { encodeParquetColumns } from "./encode.ts";
 * import { TickRows } from "./tick_rows.ts";
 * const rows = new TickRows();
 * rows.push({ symbol: "NYA", ts: Date.UTC(2021, 4, 31), open: 1, high: 2, low: 1, close: 2,
 *   adj_close: 2, volume: 0, close_usd: 2 }, 0);
 * const bytes = encodeParquetColumns(rows.columns());
 * ```
 */
export function encodeParquetColumns(columns: TickColumns): Uint8Array {
  return writeParquet({
    columns: [
      { name: "symbol", type: "string", values: columns.symbols },
      { name: "ts", type: "timestamp_ms", values: columns.times },
      ...PRICE_COLUMNS.map((name, c) => ({
        name,
        type: "double" as const,
        values: columns.prices[c],
        defined: columns.defined[c],
      })),
    ],
  });
}

/**
 * The ticks as a Polars DataFrame with the lake schema (see the module docs).
 *
 * @example
 * ```ts
 * import { ticksToFrame } from "./encode.ts";
 * ticksToFrame([]).columns; // ["symbol", "ts", "open", ..., "close_usd"]
 * ```
 */
export function ticksToFrame(ticks: readonly Tick[]): pl.DataFrame {
  const { symbols, times, prices, defined } = ticksToColumns(ticks);
  return pl.DataFrame([
    pl.Series("symbol", symbols, pl.Utf8),
    pl.Series("ts", times, pl.Float64).cast(pl.Int64).cast(pl.Datetime("ms", "UTC")),
    ...PRICE_COLUMNS.map((name, c) =>
      pl.Series(name, Array.from(prices[c], (v, i) => defined[c][i] ? v : null), pl.Float64)
    ),
  ]);
}

/**
 * Decodes a Parquet file with the lake columns back into ticks. Extra columns (such as `dt`) are
 * ignored; `ts` may be any timestamp unit or epoch milliseconds.
 *
 * @throws {DecodeError} when the bytes are not Parquet or a lake column is missing.
 */
export function decodeParquet(bytes: Uint8Array): Tick[] {
  let frame: pl.DataFrame;
  try {
    frame = pl.readParquet(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    throw new DecodeError(
      `Cannot read Parquet (${bytes.byteLength} bytes): ${messageOf(cause)}.`,
      { cause },
    );
  }
  return frameToTicks(frame);
}

/**
 * Converts a DataFrame with the lake columns into ticks (the inverse of {@linkcode ticksToFrame}).
 *
 * @throws {DecodeError} when a lake column is missing or has a type that cannot be converted.
 */
export function frameToTicks(frame: pl.DataFrame): Tick[] {
  const missing = ["symbol", "ts", ...PRICE_COLUMNS].filter((c) => !frame.columns.includes(c));
  if (missing.length > 0) {
    throw new DecodeError(
      `Parquet data lacks lake column(s) ${missing.join(", ")}; found ${
        frame.columns.join(", ")
      }. Was it written by encodeParquet?`,
    );
  }
  let symbols: (string | null)[];
  let times: (number | bigint | null)[];
  let prices: (number | null)[][];
  try {
    symbols = frame.getColumn("symbol").cast(pl.Utf8).toArray();
    const ts = frame.getColumn("ts");
    const millis = ts.dtype.equals(pl.Datetime("ms", "UTC")) || ts.dtype.variant !== "Datetime"
      ? ts
      : ts.cast(pl.Datetime("ms"));
    times = millis.cast(pl.Int64).toArray();
    prices = PRICE_COLUMNS.map((c) => frame.getColumn(c).cast(pl.Float64).toArray());
  } catch (cause) {
    throw new DecodeError(`Cannot convert Parquet columns to ticks: ${messageOf(cause)}.`, {
      cause,
    });
  }
  const ticks: Tick[] = new Array(frame.height);
  for (let i = 0; i < frame.height; i++) {
    const symbol = symbols[i];
    const ts = times[i];
    if (symbol === null || ts === null) {
      throw new DecodeError(`Parquet row ${i} has a null ${symbol === null ? "symbol" : "ts"}.`);
    }
    ticks[i] = {
      symbol,
      ts: Number(ts),
      open: prices[0][i],
      high: prices[1][i],
      low: prices[2][i],
      close: prices[3][i],
      adj_close: prices[4][i],
      volume: prices[5][i],
      close_usd: prices[6][i],
    };
  }
  return ticks;
}

/** Options of {@linkcode encodeJsonl} and {@linkcode decodeJsonl}. */
export interface JsonlOptions {
  /**
   * Gzip the bytes (`.jsonl.gz`). When decoding and left unset, gzip is detected from the
   * magic bytes. @default false
   */
  gzip?: boolean;
}

/**
 * Encodes ticks as JSON Lines: one object per line in the Kafka wire form of
 * {@linkcode encodeTick} (`ts` as an ISO-8601 UTC string), each line ending in `\n`. Athena's
 * JSON SerDe needs exactly one object per line.
 *
 * @example
 * ```ts
 * import { encodeJsonl } from "./encode.ts";
 * const gz = encodeJsonl([], { gzip: true });
 * ```
 */
export function encodeJsonl(ticks: readonly Tick[], options: JsonlOptions = {}): Uint8Array {
  let text = "";
  for (const tick of ticks) text += encodeTick(tick) + "\n";
  const bytes = new TextEncoder().encode(text);
  return options.gzip ? toUint8Array(gzipSync(bytes)) : bytes;
}

/**
 * Decodes JSON Lines written by {@linkcode encodeJsonl}; blank lines are skipped and every tick
 * is validated.
 *
 * @throws {DecodeError} naming the line when it is not a valid tick, or when gzip data is corrupt.
 */
export function decodeJsonl(bytes: Uint8Array, options: JsonlOptions = {}): Tick[] {
  const gzip = options.gzip ?? (bytes[0] === 0x1f && bytes[1] === 0x8b);
  let raw = bytes;
  if (gzip) {
    try {
      raw = toUint8Array(gunzipSync(bytes));
    } catch (cause) {
      throw new DecodeError(`Cannot gunzip JSON Lines: ${messageOf(cause)}.`, { cause });
    }
  }
  const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw);
  const ticks: Tick[] = [];
  let lineNumber = 0;
  for (const line of text.split("\n")) {
    lineNumber++;
    if (line.trim() === "") continue;
    try {
      ticks.push(decodeTick(line));
    } catch (cause) {
      if (!(cause instanceof InvalidTickError)) throw cause;
      throw new DecodeError(`JSON Lines line ${lineNumber} is not a tick: ${cause.message}.`, {
        cause,
      });
    }
  }
  return ticks;
}

/** Options of {@linkcode encodeTicks}. */
export interface EncodeOptions {
  /** The encoding. */
  format: LakeFormat;
  /** Gzip JSON Lines. @default false */
  gzip?: boolean;
}

/**
 * Encodes ticks in the given format; the one call a sink needs.
 *
 * @example
 * ```ts
 * import { encodeTicks } from "./encode.ts";
 * encodeTicks([], { format: "jsonl", gzip: true });
 * ```
 * @throws {LayoutError} for an unknown format or gzip with Parquet.
 */
export function encodeTicks(ticks: readonly Tick[], options: EncodeOptions): Uint8Array {
  extensionFor(options.format, { gzip: options.gzip });
  return options.format === "parquet"
    ? encodeParquet(ticks)
    : encodeJsonl(ticks, { gzip: options.gzip });
}

/**
 * Encodes ticks held as columns in the lake format `options.format`, as
 * {@linkcode encodeTicks} does (the sink's buffers are columns).
 *
 * @example
 * ```ts
 * import { encodeColumns } from "./encode.ts";
 * import { TickRows } from "./tick_rows.ts";
 * encodeColumns(new TickRows().columns(), { format: "parquet" });
 * ```
 * @throws {LayoutError} for an unknown format or gzip with Parquet.
 */
export function encodeColumns(columns: TickColumns, options: EncodeOptions): Uint8Array {
  if (options.format !== "parquet") return encodeTicks(columnsToTicks(columns), options);
  extensionFor(options.format, { gzip: options.gzip });
  return encodeParquetColumns(columns);
}

/**
 * Decodes a lake object, choosing the decoder from its key's extension.
 *
 * @example
 * ```ts
 * import { decodeObject, encodeTicks } from "./encode.ts";
 * decodeObject("ticks/dt=2021-05-31/t+0+00000000000000000000.jsonl",
 *   encodeTicks([], { format: "jsonl" })); // []
 * ```
 * @throws {DecodeError} when the key has no lake extension or the bytes do not decode.
 */
export function decodeObject(key: string, bytes: Uint8Array): Tick[] {
  const kind = formatFor(key);
  if (!kind) {
    throw new DecodeError(
      `Cannot tell the format of "${key}": lake objects end in ${
        [...Object.values(FORMAT_EXTENSIONS), ".jsonl.gz"].join(", ")
      }.`,
    );
  }
  try {
    return kind.format === "parquet"
      ? decodeParquet(bytes)
      : decodeJsonl(bytes, { gzip: kind.gzip });
  } catch (cause) {
    if (cause instanceof DecodeError) {
      throw new DecodeError(`Cannot decode "${key}": ${cause.message}`, { cause });
    }
    throw cause;
  }
}

function toUint8Array(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/[.\s]+$/, "");
}
