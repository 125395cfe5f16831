/**
 * Vega-Lite charts of query rows (JupyterLab draws them): price lines, candlesticks, volume bars.
 * Each is a MIME bundle a cell can show or leave as its last expression.
 *
 * @module
 */

/** The MIME type JupyterLab renders Vega-Lite 5 specs from. */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";

/** A Vega-Lite specification (plain JSON). */
export type VegaLiteSpec = Record<string, unknown>;

/**
 * A chart as a MIME bundle: display it with `show(chart)` / `Deno.jupyter.display(chart,
 * { raw: true })`, or leave it as a cell's last expression.
 */
export interface ChartBundle {
  /** The Vega-Lite specification with its data inline. */
  [VEGA_LITE_MIME]: VegaLiteSpec;
  /** What the chart shows, for viewers that cannot draw it. */
  "text/plain": string;
}

/** Raised when rows cannot be drawn; the message says which columns are needed. */
export class ChartError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ChartError";
  }
}

/** Options shared by the charts. */
export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** Width in pixels. @default 640 */
  width?: number;
  /** Height in pixels. @default 300 */
  height?: number;
}

type Row = Readonly<Record<string, unknown>>;

function chartBundle(spec: VegaLiteSpec, text: string): ChartBundle {
  const bundle = { [VEGA_LITE_MIME]: spec, "text/plain": text } as ChartBundle;
  // The Deno kernel renders a cell's last expression through this method.
  Object.defineProperty(bundle, Symbol.for("Jupyter.display"), {
    value: () => ({ [VEGA_LITE_MIME]: spec, "text/plain": text }),
    enumerable: false,
  });
  return bundle;
}

/** Turns query rows into Vega-Lite data: `Date` to ISO text, `bigint` to number, only `fields`. */
export function chartValues(
  rows: readonly Row[],
  fields: readonly string[],
): Record<string, unknown>[] {
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const field of fields) {
      const value = row[field];
      out[field] = value instanceof Date
        ? value.toISOString()
        : typeof value === "bigint"
        ? Number(value)
        : value ?? null;
    }
    return out;
  });
}

function requireColumns(
  chart: string,
  rows: readonly Row[],
  columns: string[],
  hint: string,
): void {
  if (rows.length === 0) {
    throw new ChartError(
      `Cannot draw the ${chart}: the query returned no rows. Fill the lake first (run ` +
        "01_kafka_producer.ipynb, then 02_kafka_consumer.ipynb), widen the filter, or on Athena check " +
        "that the Glue table's location is the lake (deno task crawl --target aws).",
    );
  }
  const have = Object.keys(rows[0]);
  const missing = columns.filter((c) => !have.includes(c));
  if (missing.length > 0) {
    throw new ChartError(
      `Cannot draw the ${chart}: the rows have no ${missing.map((m) => `"${m}"`).join(", ")} ` +
        `column (they have ${have.join(", ")}). ${hint}`,
    );
  }
}

function base(options: ChartOptions, title: string): VegaLiteSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: options.title ?? title,
    width: options.width ?? 640,
    height: options.height ?? 300,
  };
}

function symbolsOf(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => String(r.symbol)))].sort();
}

/** Options of {@linkcode priceLinesChart}. */
export interface PriceLinesOptions extends ChartOptions {
  /** Time column. @default "ts" */
  x?: string;
  /** Price column. @default "close" */
  y?: string;
  /**
   * Divide each symbol's prices by its first one (×100) so indices on very different scales
   * share one axis. @default true
   */
  rebase?: boolean;
}

/**
 * One price line per symbol over time.
 *
 * @example
 * ```ts
 * import { priceLinesChart, VEGA_LITE_MIME } from "./mod.ts";
 * const chart = priceLinesChart([
 *   { symbol: "NYA", ts: new Date("2021-01-04"), close: 100 },
 *   { symbol: "NYA", ts: new Date("2021-01-05"), close: 110 },
 * ]);
 * chart[VEGA_LITE_MIME].mark; // { type: "line", interpolate: "monotone" }
 * ```
 * @throws {ChartError} for no rows or missing `symbol`, time or price columns.
 */
export function priceLinesChart(
  rows: readonly Row[],
  options: PriceLinesOptions = {},
): ChartBundle {
  const x = options.x ?? "ts";
  const y = options.y ?? "close";
  const rebase = options.rebase ?? true;
  requireColumns(
    "price lines",
    rows,
    ["symbol", x, y],
    `Pass rows with symbol, ${x} and ${y}, e.g. SELECT symbol, ts, close FROM ticks.`,
  );
  const values = chartValues(rows, ["symbol", x, y])
    .filter((v) => typeof v[y] === "number")
    .sort((a, b) =>
      String(a.symbol).localeCompare(String(b.symbol)) || String(a[x]).localeCompare(String(b[x]))
    );
  if (rebase) {
    const first = new Map<string, number>();
    for (const v of values) {
      const symbol = String(v.symbol);
      if (!first.has(symbol) && (v[y] as number) !== 0) first.set(symbol, v[y] as number);
      const start = first.get(symbol);
      v.rebased = start === undefined ? null : (v[y] as number) / start * 100;
    }
  }
  const field = rebase ? "rebased" : y;
  const spec = {
    ...base(
      options,
      rebase ? `${y}, rebased to 100 at each symbol's first bar` : `${y} per symbol`,
    ),
    data: { values },
    mark: { type: "line", interpolate: "monotone" },
    encoding: {
      x: { field: x, type: "temporal", title: null, scale: { type: "utc" } },
      y: {
        field,
        type: "quantitative",
        title: rebase ? `${y} (first = 100)` : y,
        scale: { zero: false },
      },
      color: { field: "symbol", type: "nominal", title: "symbol", scale: { scheme: "tableau20" } },
      tooltip: [
        { field: "symbol", type: "nominal" },
        { field: x, type: "temporal", format: "%Y-%m-%d", scale: { type: "utc" } },
        { field: y, type: "quantitative", format: ",.2f" },
      ],
    },
  };
  const symbols = symbolsOf(rows);
  return chartBundle(
    spec,
    `Price lines of ${symbols.length} symbols (${symbols.join(", ")}), ${values.length} points`,
  );
}

/** Options of {@linkcode candlestickChart}. */
export interface CandlestickOptions extends ChartOptions {
  /** Time column (the `ohlc` analysis calls it `period`). @default "period" */
  x?: string;
  /** The symbol to draw. @default the first symbol of the rows */
  symbol?: string;
}

/**
 * OHLC candlesticks of one symbol: a rule from low to high, a bar from open to close, green when
 * the close is above the open.
 *
 * @throws {ChartError} for no rows, missing columns, or a symbol the rows do not have.
 */
export function candlestickChart(
  rows: readonly Row[],
  options: CandlestickOptions = {},
): ChartBundle {
  const x = options.x ?? "period";
  requireColumns(
    "candlesticks",
    rows,
    ["symbol", x, "open", "high", "low", "close"],
    "Pass the rows of the ohlc analysis (symbol, period, open, high, low, close).",
  );
  const symbols = symbolsOf(rows);
  const symbol = options.symbol ?? symbols[0];
  const mine = rows.filter((r) => String(r.symbol) === symbol);
  if (mine.length === 0) {
    throw new ChartError(
      `Cannot draw the candlesticks of "${symbol}": the rows have only ${symbols.join(", ")}.`,
    );
  }
  const values = chartValues(mine, ["symbol", x, "open", "high", "low", "close"]);
  const width = options.width ?? 640;
  const size = Math.max(1, Math.min(8, Math.floor((width / values.length) * 0.7)));
  const xEncoding = { field: x, type: "temporal", title: null, scale: { type: "utc" } };
  const spec = {
    ...base(options, `${symbol}: open, high, low, close`),
    data: { values },
    encoding: {
      x: xEncoding,
      y: { type: "quantitative", scale: { zero: false }, title: "price" },
      color: {
        condition: { test: "datum.open <= datum.close", value: "#2e7d32" },
        value: "#c62828",
      },
      tooltip: [
        { field: x, type: "temporal", format: "%Y-%m-%d", scale: { type: "utc" } },
        { field: "open", type: "quantitative", format: ",.2f" },
        { field: "high", type: "quantitative", format: ",.2f" },
        { field: "low", type: "quantitative", format: ",.2f" },
        { field: "close", type: "quantitative", format: ",.2f" },
      ],
    },
    layer: [
      { mark: "rule", encoding: { y: { field: "low" }, y2: { field: "high" } } },
      {
        mark: { type: "bar", size },
        encoding: { y: { field: "open" }, y2: { field: "close" } },
      },
    ],
  };
  return chartBundle(spec, `Candlesticks of ${symbol}, ${values.length} bars`);
}

/** Options of {@linkcode volumeChart}. */
export interface VolumeOptions extends ChartOptions {
  /** Time column. @default "period" */
  x?: string;
  /** Volume column. @default "volume" */
  y?: string;
}

/**
 * Traded volume over time as bars stacked by symbol.
 *
 * @throws {ChartError} for no rows or missing `symbol`, time or volume columns.
 */
export function volumeChart(rows: readonly Row[], options: VolumeOptions = {}): ChartBundle {
  const x = options.x ?? "period";
  const y = options.y ?? "volume";
  requireColumns(
    "volume bars",
    rows,
    ["symbol", x, y],
    `Pass rows with symbol, ${x} and ${y}, e.g. the ohlc or vwap analysis.`,
  );
  const values = chartValues(rows, ["symbol", x, y]);
  const spec = {
    ...base(options, `${y} per ${x}, stacked by symbol`),
    data: { values },
    mark: "bar",
    encoding: {
      x: { field: x, type: "temporal", title: null, scale: { type: "utc" } },
      y: {
        field: y,
        type: "quantitative",
        aggregate: "sum",
        stack: "zero",
        title: y,
        axis: { format: "~s" },
      },
      color: { field: "symbol", type: "nominal", scale: { scheme: "tableau20" } },
      tooltip: [
        { field: "symbol", type: "nominal" },
        { field: x, type: "temporal", format: "%Y-%m-%d", scale: { type: "utc" } },
        { field: y, type: "quantitative", aggregate: "sum", format: ",.0f" },
      ],
    },
  };
  return chartBundle(spec, `Volume of ${symbolsOf(rows).length} symbols, ${values.length} bars`);
}
