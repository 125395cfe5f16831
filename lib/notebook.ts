/**
 * Helpers for the tutorial notebooks (`notebooks/*.ipynb`, Deno kernel): their settings from the
 * environment, a display that updates one output in place while producing or consuming, Vega-Lite
 * charts of query results, the catalog + query steps for either target, and the checks that run
 * the notebooks headless in CI (kernel install, error outputs, stripping outputs for git).
 *
 * Everything that builds a value (settings, views, chart specs, notebook checks) is pure and
 * unit-tested; the parts that talk to Jupyter fall back to the terminal outside a kernel.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { discoverLake, type LakeDiscovery } from "./catalog/discover.ts";
import { ensureGlueTable } from "./catalog/glue.ts";
import { writeLocalCatalog } from "./catalog/local.ts";
import { tableInput } from "./catalog/table_input.ts";
import { numberRule, parseNumber } from "./cli.ts";
import { ConfigError, loadConfig, type PipelineConfig } from "./config.ts";
import type { ConsumeProgress } from "./ingest/consume_to_lake.ts";
import type { ProduceProgress } from "./kafka/producer.ts";
import { tablePrefix } from "./lake/layout.ts";
import { openStore } from "./lake/open_store.ts";
import type { Store } from "./lake/store.ts";
import { type Logger, silentLogger } from "./log.ts";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  type ProgressSink,
  terminalProgress,
} from "./progress.ts";
import {
  type AnalysisName,
  type AnalysisOptions,
  analysisSql,
  type Engine,
} from "./query/analyses.ts";
import { queryAthena } from "./query/athena.ts";
import { openLocalEngine, s3CloudOptions } from "./query/local.ts";
import type { QueryResult } from "./query/result.ts";
import { rejectsPathFor } from "./source/rejects.ts";
import { type Tick, utcDate } from "./tick.ts";

// ---------------------------------------------------------------------------------------------
// Settings

/** The project folder (the parent of `lib/`), whatever the kernel's working directory is. */
export const PROJECT_ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(
  /\/+$/,
  "",
);

/** The settings every notebook reads: the pipeline's config plus the tutorial's knobs. */
export interface NotebookSettings extends PipelineConfig {
  /** Topic of the first "hello" message (kept apart from the tick topic). */
  testTopic: string;
  /** Suffix that makes topic, group and lake unique to one run (env `NOTEBOOK_RUN_ID`). */
  runId?: string;
  /** CSV file the producer reads, absolute (env `NOTEBOOK_CSV`). */
  csv: string;
  /** Where the producer keeps the CSV's bad rows: `<project>/rejects/<file>.rejects.csv`. */
  rejects: string;
  /** Rows the producer sends (env `NOTEBOOK_ROWS`). @default 5000 */
  rows: number;
  /** Rows per second the producer sends (env `NOTEBOOK_RATE`). @default 1000 */
  rate: number;
  /** `sample`: random rows like the original tutorial; `stream`: file order (env `NOTEBOOK_MODE`). @default "sample" */
  mode: "sample" | "stream";
  /** The consumer stops after this many seconds without a message (env `NOTEBOOK_IDLE_SECONDS`). @default 3 */
  idleSeconds: number;
  /** The consumer stops after this many messages (env `NOTEBOOK_MAX_MESSAGES`). @default 100000 */
  maxMessages: number;
  /** Where the analysis catalogs and queries: Polars SQL or Glue + Athena (env `NOTEBOOK_TARGET`). @default "local" */
  target: "local" | "aws";
}

/** Options of {@linkcode notebookSettings}. */
export interface NotebookSettingsOptions {
  /** The environment. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /** Project folder for relative paths. @default PROJECT_ROOT */
  root?: string;
}

/**
 * Reads the notebook settings from the environment. Relative folders (lake, CSV) are resolved
 * against the project folder, not the kernel's working directory (`notebooks/`). With
 * `NOTEBOOK_RUN_ID` set, the topic, group and lake get that suffix so runs never collide; the
 * lake then defaults to `.cache/notebook-runs/<id>/lake`.
 *
 * @example
 * ```ts
 * import { notebookSettings } from "./notebook.ts";
 * const s = notebookSettings({ env: { NOTEBOOK_RUN_ID: "ci1" }, root: "/repo" });
 * s.topic; // "stock_market-nb-ci1"
 * s.lake; // "/repo/.cache/notebook-runs/ci1/lake"
 * ```
 * @throws {ConfigError} naming the variable when a value is malformed.
 */
export function notebookSettings(options: NotebookSettingsOptions = {}): NotebookSettings {
  const env = options.env ?? Deno.env.toObject();
  const root = options.root ?? PROJECT_ROOT;
  const config = loadConfig({ env });
  const runId = env.NOTEBOOK_RUN_ID?.trim() || undefined;
  if (runId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(runId)) {
    throw new ConfigError(
      `NOTEBOOK_RUN_ID="${runId}" is not valid: use 1-64 letters, digits, '_' or '-'.`,
    );
  }
  const suffix = runId ? `-nb-${runId}` : "";
  let lake = resolveFolder(config.lake, root);
  if (runId) {
    lake = env.LAKE_URI?.trim()
      ? `${lake.replace(/\/+$/, "")}/notebook-runs/${runId}`
      : join(root, ".cache", "notebook-runs", runId, "lake");
  }
  const csv = resolveFolder(env.NOTEBOOK_CSV?.trim() || "data/stock_data.csv", root);
  const mode = env.NOTEBOOK_MODE?.trim() || "sample";
  if (mode !== "sample" && mode !== "stream") {
    throw new ConfigError(`NOTEBOOK_MODE="${mode}" is not valid: use sample or stream.`);
  }
  const target = env.NOTEBOOK_TARGET?.trim() || "local";
  if (target !== "local" && target !== "aws") {
    throw new ConfigError(`NOTEBOOK_TARGET="${target}" is not valid: use local or aws.`);
  }
  if (target === "aws" && !lake.startsWith("s3://")) {
    throw new ConfigError(
      `NOTEBOOK_TARGET=aws needs an S3 lake for Glue and Athena, but the lake is "${lake}": ` +
        "set LAKE_URI=s3://bucket/prefix.",
    );
  }
  return {
    ...config,
    topic: `${config.topic}${suffix}`,
    group: `${config.group}${suffix}`,
    lake,
    testTopic: `${config.topic}${suffix}.hello`,
    runId,
    csv,
    rejects: rejectsPathFor(csv, join(root, "rejects")),
    rows: positiveNumber(env, "NOTEBOOK_ROWS", 5000, true),
    rate: positiveNumber(env, "NOTEBOOK_RATE", 1000, false),
    mode,
    idleSeconds: positiveNumber(env, "NOTEBOOK_IDLE_SECONDS", 3, false),
    maxMessages: positiveNumber(env, "NOTEBOOK_MAX_MESSAGES", 100_000, true),
    target,
  };
}

function resolveFolder(path: string, root: string): string {
  if (path.startsWith("s3://") || path.startsWith("file://") || isAbsolute(path)) return path;
  return resolve(root, path);
}

function positiveNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const rule = { positive: true, integer };
  const value = parseNumber(text, rule);
  if (value === undefined) {
    throw new ConfigError(`${name}="${text}" is not valid: use ${numberRule(rule)}.`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Jupyter display

/** A MIME bundle: output data keyed by MIME type (`text/plain`, `text/html`, …). */
export type DisplayBundle = Record<string, unknown>;

/** The part of `Deno.jupyter` the helpers use. */
export interface JupyterDisplay {
  /** Shows a bundle; with `update` replaces the output that has the same `display_id`. */
  display(
    bundle: DisplayBundle,
    options: { raw: true; display_id?: string; update?: boolean },
  ): Promise<void>;
}

/**
 * `Deno.jupyter` when the code runs in the Deno Jupyter kernel, else `undefined` (outside the
 * kernel merely reading `Deno.jupyter` throws).
 */
export function jupyter(): JupyterDisplay | undefined {
  try {
    const api = (Deno as unknown as { jupyter?: JupyterDisplay }).jupyter;
    return typeof api?.display === "function" ? api : undefined;
  } catch {
    return undefined;
  }
}

/** A progress display that also accepts rich bundles; `done` resolves once it is shown. */
export interface LiveDisplay extends ProgressSink {
  /** Shows the latest state (text or a bundle); updates closer than `intervalMs` are dropped. */
  update(content: string | DisplayBundle): void;
  /** Shows the final state; await it so nothing is sent after the cell ends. */
  done(content: string | DisplayBundle): Promise<void>;
}

/** Options of {@linkcode liveDisplay}. */
export interface LiveDisplayOptions {
  /** Least time between two updates. @default 200 */
  intervalMs?: number;
  /** The Jupyter API. @default jupyter() */
  jupyter?: JupyterDisplay;
  /** Used outside Jupyter. @default terminalProgress() */
  fallback?: ProgressSink;
  /** Id of the output updated in place. @default a random UUID */
  displayId?: string;
}

/**
 * One output that updates in place in a notebook (Jupyter `display_id`), or the terminal
 * progress line elsewhere. Displays are sent in order; `done()` waits for all of them, so the
 * last update cannot leak into the next cell.
 *
 * @example
 * ```ts ignore
 * import { liveDisplay } from "./notebook.ts";
 * const view = liveDisplay();
 * view.update("sent 10");
 * await view.done("sent 20");
 * ```
 */
export function liveDisplay(options: LiveDisplayOptions = {}): LiveDisplay {
  const api = options.jupyter ?? jupyter();
  const interval = options.intervalMs ?? 200;
  if (!api) {
    const sink = options.fallback ?? terminalProgress();
    return {
      update: (content) => sink.update(plainText(content)),
      done: (content) => Promise.resolve(sink.done(plainText(content))),
    };
  }
  const displayId = options.displayId ?? crypto.randomUUID();
  let shown = false;
  let last = -Infinity;
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const send = (content: string | DisplayBundle) => {
    const bundle = typeof content === "string" ? { "text/plain": content } : content;
    const update = shown;
    shown = true;
    chain = chain.then(() => api.display(bundle, { raw: true, display_id: displayId, update }))
      .catch((error) => void (failure ??= error));
  };
  return {
    update(content) {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      send(content);
    },
    async done(content) {
      send(content);
      await chain;
      if (failure) throw failure;
    },
  };
}

/**
 * Shows a bundle (a chart, a view) as its own output: in Jupyter as rich output, elsewhere as
 * its `text/plain` on stdout.
 */
export async function show(bundle: DisplayBundle, api = jupyter()): Promise<void> {
  if (api) await api.display(bundle, { raw: true });
  else console.log(plainText(bundle));
}

function plainText(content: string | DisplayBundle): string {
  if (typeof content === "string") return content;
  const text = content["text/plain"];
  return typeof text === "string" ? text : JSON.stringify(content);
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------------
// Progress views

/** The latest tick of each symbol seen so far (the "last prices" board of the live views). */
export class LastPrices {
  #ticks = new Map<string, Tick>();

  /** Records a tick (ignores `undefined`). */
  observe(tick: Tick | undefined): void {
    if (tick) this.#ticks.set(tick.symbol, tick);
  }

  /** Passes ticks through, recording each one (wrap the producer's source with it). */
  async *tap(ticks: AsyncIterable<Tick> | Iterable<Tick>): AsyncGenerator<Tick, void, undefined> {
    for await (const tick of ticks) {
      this.observe(tick);
      yield tick;
    }
  }

  /** The latest tick of each symbol, by symbol. */
  ticks(): Tick[] {
    return [...this.#ticks.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  }

  /** Number of symbols seen. */
  get size(): number {
    return this.#ticks.size;
  }
}

interface ViewParts {
  title: string;
  facts: [string, string][];
  done?: number;
  total?: number;
  prices?: LastPrices;
}

function view(parts: ViewParts): DisplayBundle {
  const fraction = parts.total ? Math.min(1, (parts.done ?? 0) / parts.total) : undefined;
  const text = [
    `${parts.title}${fraction === undefined ? "" : ` ${Math.round(fraction * 100)}%`}`,
    parts.facts.map(([label, value]) => `${label} ${value}`).join(" · "),
  ];
  const ticks = parts.prices?.ticks() ?? [];
  if (ticks.length > 0) {
    text.push(
      `last: ${
        ticks.map((t) => `${t.symbol} ${formatPrice(t.close)} (${utcDate(t.ts)})`).join(", ")
      }`,
    );
  }
  const bar = fraction === undefined
    ? ""
    : `<progress value="${parts.done}" max="${parts.total}" ` +
      `style="width: 24em"></progress> ${Math.round(fraction * 100)}%`;
  const facts = parts.facts.map(([label, value]) =>
    `<span style="margin-right: 1.2em">${escapeHtml(label)} <b>${escapeHtml(value)}</b></span>`
  ).join("");
  const rows = ticks.map((t) =>
    `<tr><td>${escapeHtml(t.symbol)}</td><td>${utcDate(t.ts)}</td>` +
    `<td style="text-align: right">${formatPrice(t.close)}</td>` +
    `<td style="text-align: right">${t.volume === null ? "" : formatCount(t.volume)}</td></tr>`
  ).join("");
  const table = ticks.length === 0 ? "" : `<table><thead><tr><th>symbol</th><th>date</th>` +
    `<th>last close</th><th>volume</th></tr></thead><tbody>${rows}</tbody></table>`;
  const html = `<div><div><b>${escapeHtml(parts.title)}</b> ${bar}</div><div>${facts}</div>` +
    `${table}</div>`;
  return { "text/plain": text.join("\n"), "text/html": html };
}

function formatPrice(value: number | null): string {
  return value === null ? "–" : value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** Options of {@linkcode produceView}. */
export interface ProduceViewOptions {
  /** Messages expected in all, for a progress bar. */
  total?: number;
  /** The last prices board. */
  prices?: LastPrices;
}

/**
 * The producer's live view: progress bar, count, rate, bytes, and the last prices.
 *
 * @example
 * ```ts
 * import { produceView } from "./notebook.ts";
 * produceView({ sent: 500, bytes: 60_000, elapsedMs: 1000 }, { total: 1000 })["text/plain"];
 * // "Producing 50%\nsent 500 · rate 500/s · bytes 58.6 KiB · elapsed 1.0 s"
 * ```
 */
export function produceView(
  progress: ProduceProgress,
  options: ProduceViewOptions = {},
): DisplayBundle {
  return view({
    title: "Producing",
    done: progress.sent,
    total: options.total,
    prices: options.prices,
    facts: [
      ["sent", formatCount(progress.sent)],
      ["rate", formatRate(progress.sent, progress.elapsedMs)],
      ["bytes", formatBytes(progress.bytes)],
      ["elapsed", formatDuration(progress.elapsedMs)],
    ],
  });
}

/** Options of {@linkcode consumeView}. */
export interface ConsumeViewOptions {
  /** Message limit of the run, for a progress bar. */
  limit?: number;
  /** The last prices board. */
  prices?: LastPrices;
}

/**
 * The consumer's live view: messages, rate, rows and objects written, commits, buffered rows,
 * dead letters, and the last prices.
 */
export function consumeView(
  progress: ConsumeProgress,
  options: ConsumeViewOptions = {},
): DisplayBundle {
  return view({
    title: "Consuming",
    done: progress.messages,
    total: options.limit,
    prices: options.prices,
    facts: [
      ["messages", formatCount(progress.messages)],
      ["rate", formatRate(progress.messages, progress.elapsedMs)],
      ["rows written", formatCount(progress.rowsWritten)],
      ["objects", formatCount(progress.objectsWritten)],
      ["bytes", formatBytes(progress.bytesWritten)],
      ["commits", formatCount(progress.commits)],
      ["buffered", formatCount(progress.bufferedRows)],
      ["dead letters", formatCount(progress.deadLettered)],
      ["elapsed", formatDuration(progress.elapsedMs)],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Charts

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
        "kafka_producer.ipynb, then kafka_consumer.ipynb), widen the filter, or on Athena check " +
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
 * import { priceLinesChart, VEGA_LITE_MIME } from "./notebook.ts";
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

// ---------------------------------------------------------------------------------------------
// Catalog and query, for either target

/** What {@linkcode LakeAnalysis.catalog} found and where it wrote the table. */
export interface CatalogSummary {
  /** The table's schema, partitions and size. */
  discovery: LakeDiscovery;
  /** Where the table definition went: a lake key or `glue://database.table`. */
  where: string;
}

/** The lake opened for the analysis notebook: catalog it, then query it. */
export interface LakeAnalysis {
  /** `local` (Polars SQL) or `athena`. */
  readonly engine: Engine;
  /** The lake store. */
  readonly store: Store;
  /** Discovers the table and writes it to the local catalog or to Glue. */
  catalog(): Promise<CatalogSummary>;
  /** Runs one SQL statement on the target's engine. */
  sql(sql: string): Promise<QueryResult>;
  /** Runs a named analysis (see `deno task query --list`). */
  named(name: AnalysisName, options?: AnalysisOptions): Promise<QueryResult>;
}

/**
 * Opens the lake of the settings for catalog + query: locally Polars SQL and a catalog file in
 * the lake; with `NOTEBOOK_TARGET=aws` a Glue table (partition projection) and Athena.
 *
 * @example
 * ```ts ignore
 * import { notebookSettings, openLakeAnalysis } from "./notebook.ts";
 * const lake = openLakeAnalysis(notebookSettings());
 * await lake.catalog();
 * const latest = await lake.named("latest");
 * ```
 */
export function openLakeAnalysis(
  settings: NotebookSettings,
  options: { logger?: Logger } = {},
): LakeAnalysis {
  const logger = options.logger ?? silentLogger;
  const store = openStore(settings.lake, { region: settings.region, endpoint: settings.endpoint });
  const engine: Engine = settings.target === "aws" ? "athena" : "local";
  let local: ReturnType<typeof openLocalEngine> | undefined;
  const sql = async (text: string): Promise<QueryResult> => {
    if (engine === "athena") {
      return await queryAthena(text, {
        database: settings.database,
        workgroup: settings.workgroup,
        outputLocation: settings.athenaOutput,
        region: settings.region,
        endpoint: settings.endpoint,
        logger,
      });
    }
    local ??= openLocalEngine({
      store,
      table: settings.table,
      prefix: tablePrefix(settings.table),
      cloudOptions: s3CloudOptions({ region: settings.region, endpoint: settings.endpoint }),
    });
    return await (await local).query(text);
  };
  return {
    engine,
    store,
    async catalog() {
      const discovery = await discoverLake(store, { table: settings.table, logger });
      local = undefined; // the lake may have grown since the engine listed it
      if (engine === "local") {
        const { key } = await writeLocalCatalog(store, discovery, { database: settings.database });
        return { discovery, where: `${store.uri.replace(/\/+$/, "")}/${key}` };
      }
      const location = `${store.uri.replace(/\/+$/, "")}/${settings.table}/`;
      await ensureGlueTable({
        database: settings.database,
        table: tableInput(discovery, { name: settings.table, location }),
        region: settings.region,
        endpoint: settings.endpoint,
        logger,
      });
      return { discovery, where: `glue://${settings.database}.${settings.table}` };
    },
    sql,
    named: (name, analysisOptions = {}) =>
      sql(analysisSql(name, engine, { table: settings.table, ...analysisOptions })),
  };
}

// ---------------------------------------------------------------------------------------------
// Running notebooks: kernel, checks, stripping

/** The parts of an `.ipynb` document the checks read. */
export interface NotebookDocument {
  /** Cells in order. */
  cells: NotebookCell[];
  /** Notebook metadata (kernelspec, language_info, …). */
  metadata: Record<string, unknown>;
  /** Other top-level fields (`nbformat`, …). */
  [key: string]: unknown;
}

/** One cell of a {@linkcode NotebookDocument}. */
export interface NotebookCell {
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** Source as one string or a list of lines. */
  source: string | string[];
  /** Code cells: outputs. */
  outputs?: NotebookOutput[];
  /** Code cells: execution count. */
  execution_count?: number | null;
  /** Cell metadata. */
  metadata?: Record<string, unknown>;
  /** Other fields (`id`, …). */
  [key: string]: unknown;
}

/** One output of a code cell. */
export interface NotebookOutput {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** Stream name: `stdout` or `stderr`. */
  name?: string;
  /** Stream text. */
  text?: string | string[];
  /** MIME bundle of display outputs. */
  data?: Record<string, unknown>;
  /** Error class name. */
  ename?: string;
  /** Error message. */
  evalue?: string;
  /** Other fields. */
  [key: string]: unknown;
}

/** A problem found in an executed notebook. */
export interface NotebookProblem {
  /** Cell index (0-based, as in the file). */
  cell: number;
  /** What is wrong, in one line. */
  message: string;
}

function joined(text: string | string[] | undefined): string {
  return Array.isArray(text) ? text.join("") : text ?? "";
}

/**
 * The problems of an executed notebook: error outputs, stderr that mentions an error, and code
 * cells that never ran (the run stopped before them).
 *
 * @example
 * ```ts
 * import { notebookProblems } from "./notebook.ts";
 * notebookProblems({ metadata: {}, cells: [{ cell_type: "code", source: "x", execution_count: 1,
 *   outputs: [{ output_type: "error", ename: "TypeError", evalue: "x is not defined" }] }] });
 * // [{ cell: 0, message: "TypeError: x is not defined" }]
 * ```
 */
export function notebookProblems(notebook: NotebookDocument): NotebookProblem[] {
  const problems: NotebookProblem[] = [];
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code" || joined(cell.source).trim() === "") return;
    for (const output of cell.outputs ?? []) {
      if (output.output_type === "error") {
        problems.push({ cell: index, message: `${output.ename}: ${output.evalue}` });
      } else if (
        output.output_type === "stream" && output.name === "stderr" &&
        /error/i.test(joined(output.text))
      ) {
        problems.push({ cell: index, message: `stderr: ${firstLines(joined(output.text))}` });
      }
    }
    if (cell.execution_count === null || cell.execution_count === undefined) {
      problems.push({ cell: index, message: "did not run" });
    }
  });
  return problems;
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join(" | ");
}

/** Number of chart outputs (Vega-Lite, SVG or PNG) in a notebook. */
export function countCharts(notebook: NotebookDocument): number {
  let charts = 0;
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      const data = output.data ?? {};
      if (Object.keys(data).some((m) => /vegalite|vega\.v|image\/svg|image\/png/.test(m))) charts++;
    }
  }
  return charts;
}

/**
 * Strips what running leaves in a notebook: outputs, execution counts and per-run cell metadata.
 * Returns a copy and whether anything was removed.
 */
export function stripNotebook(notebook: NotebookDocument): {
  notebook: NotebookDocument;
  changed: boolean;
} {
  let changed = false;
  const cells = notebook.cells.map((cell) => {
    const copy: NotebookCell = { ...cell };
    if (cell.metadata) {
      const metadata = { ...cell.metadata };
      for (const key of ["execution", "ExecuteTime", "collapsed", "scrolled"]) {
        if (key in metadata) {
          delete metadata[key];
          changed = true;
        }
      }
      copy.metadata = metadata;
    }
    if (cell.cell_type === "code") {
      if ((cell.outputs?.length ?? 0) > 0 || cell.outputs === undefined) changed = true;
      if (cell.execution_count !== null) changed = true;
      copy.outputs = [];
      copy.execution_count = null;
    }
    return copy;
  });
  return { notebook: { ...notebook, cells }, changed };
}

/**
 * Serialises a notebook the way Jupyter saves it (nbformat): keys sorted, one-space indent, a
 * final newline — so stripping and saving from JupyterLab give the same bytes.
 */
export function notebookJson(notebook: NotebookDocument): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value).sort().map((
          key,
        ) => [key, sorted((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return `${JSON.stringify(sorted(notebook), null, 1)}\n`;
}

/** Raised when the Deno kernel cannot be installed or is not the one this Deno provides. */
export class KernelInstallError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KernelInstallError";
  }
}

/**
 * Installs the Deno Jupyter kernel (`deno jupyter --install --force`) for the running Deno, then
 * checks with the environment's `jupyter kernelspec list` that the `deno` kernel starts this
 * very Deno binary, symlinks resolved (so notebooks run on the project's pinned version).
 *
 * @param python The Python of the environment that has Jupyter (e.g. `.cache/venv/bin/python`).
 * @returns the kernel spec folder.
 * @throws {KernelInstallError} when the install fails or another Deno would start.
 */
export async function ensureDenoKernel(python: string): Promise<string> {
  const install = await new Deno.Command(Deno.execPath(), {
    args: ["jupyter", "--install", "--force"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(install.stdout) + new TextDecoder().decode(install.stderr);
  if (!install.success) {
    throw new KernelInstallError(`"deno jupyter --install" failed: ${said.trim()}`);
  }
  const list = await new Deno.Command(python, {
    args: ["-m", "jupyter", "kernelspec", "list", "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!list.success) {
    throw new KernelInstallError(
      `"${python} -m jupyter kernelspec list" failed (is Jupyter installed? run deno task up --aws ` +
        `to build the Python environment): ${new TextDecoder().decode(list.stderr).trim()}`,
    );
  }
  const specs = JSON.parse(new TextDecoder().decode(list.stdout)).kernelspecs ?? {};
  const deno = specs.deno as { resource_dir: string; spec: { argv: string[] } } | undefined;
  if (!deno) {
    throw new KernelInstallError(
      'Jupyter does not list a "deno" kernel after "deno jupyter --install"; check ' +
        "JUPYTER_PATH and JUPYTER_DATA_DIR.",
    );
  }
  const same = (path: string) => {
    try {
      return Deno.realPathSync(path) === Deno.realPathSync(Deno.execPath());
    } catch {
      return false;
    }
  };
  if (!same(deno.spec.argv[0])) {
    throw new KernelInstallError(
      `Jupyter's "deno" kernel (${deno.resource_dir}) starts ${deno.spec.argv[0]}, not ` +
        `${Deno.execPath()}: a kernel spec earlier on JUPYTER_PATH wins; remove it.`,
    );
  }
  return deno.resource_dir;
}
