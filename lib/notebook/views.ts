/**
 * What the notebooks show: the live outputs of the producer and consumer (progress, counts, rates
 * and a board of the last price per symbol), and readable tables of rows, query results and
 * settings, as text and HTML.
 *
 * @module
 */

import type { ConsumeProgress } from "../ingest/consume_to_lake.ts";
import type { ProduceProgress } from "../kafka/producer.ts";
import { formatBytes, formatCount, formatDuration, formatRate } from "../progress.ts";
import type { QueryResult } from "../query/result.ts";
import { type Tick, utcDate } from "../tick.ts";
import { type DisplayBundle, escapeHtml } from "./display.ts";

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
    `<tr><td style="text-align: left">${escapeHtml(t.symbol)}</td>` +
    `<td style="text-align: left">${utcDate(t.ts)}</td>` +
    `<td style="text-align: right">${formatPrice(t.close)}</td>` +
    `<td style="text-align: right">${t.volume === null ? "" : formatCount(t.volume)}</td></tr>`
  ).join("");
  const table = ticks.length === 0
    ? ""
    : `<table><thead><tr><th style="text-align: left">symbol</th>` +
      `<th style="text-align: left">date</th>` +
      `<th>last close</th><th>volume</th></tr></thead><tbody>${rows}</tbody></table>`;
  const html = `<div><div><b>${escapeHtml(parts.title)}</b> ${bar}</div><div>${facts}</div>` +
    `${table}</div>`;
  return { "text/plain": text.join("\n"), "text/html": html };
}

function formatPrice(value: number | null): string {
  return value === null
    ? "–"
    : value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
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
 * import { produceView } from "./mod.ts";
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
// Tables

/** A row of a table: column name to value. */
export type TableRow = Readonly<Record<string, unknown>>;

/** What {@linkcode table} accepts: rows, a query result, or a Polars DataFrame. */
export type TableInput =
  | readonly TableRow[]
  | QueryResult
  | { toRecords(): Record<string, unknown>[]; columns: string[] };

/** Options of {@linkcode table}. */
export interface TableOptions {
  /** Columns to show, in this order. @default every column, in the rows' order */
  columns?: readonly string[];
  /** Rows shown at most; the others are counted below the table. @default 20 */
  maxRows?: number;
  /** A line above the table. */
  title?: string;
}

/** A table as a MIME bundle (HTML and aligned text) that renders itself as a cell's result. */
export type TableView = DisplayBundle & { "text/plain": string; "text/html": string };

/**
 * A readable table of rows: instants as ISO text (`2021-06-24`, or `2021-06-24T13:45:07Z` where
 * there is a time), prices rounded to 2 decimals with thousands separators, percentages (columns
 * named `…pct…`/`…percent…`) with a `%`, counts with separators, numbers right-aligned. Show it
 * with `await show(table(…))`.
 *
 * @example
 * ```ts
 * import { table } from "./views.ts";
 * table([{ symbol: "NYA", ts: new Date("2021-06-24T00:00:00Z"), close: 16602.3349 }])["text/plain"];
 * // "symbol  ts          close\n──────  ──────────  ─────────\nNYA     2021-06-24  16,602.33"
 * ```
 */
export function table(input: TableInput, options: TableOptions = {}): TableView {
  const { rows, columns: found } = tableRows(input);
  const columns = options.columns ?? found;
  const maxRows = options.maxRows ?? 20;
  const shown = rows.slice(0, maxRows);
  const styles = columns.map((column) => numberStyle(column, shown.map((row) => row[column])));
  const cells = shown.map((row) =>
    columns.map((column, i) => formatCell(column, row[column], styles[i]))
  );
  const numeric = columns.map((column) =>
    shown.some((row) => isNumber(row[column])) &&
    shown.every((row) => row[column] === null || row[column] === undefined || isNumber(row[column]))
  );
  const more = rows.length - shown.length;
  const footer = more > 0
    ? `… and ${formatCount(more)} more rows (${formatCount(rows.length)} in all)`
    : "";
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => row[i].length))
  );
  const pad = (text: string, i: number) =>
    numeric[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  const text = [
    ...(options.title ? [options.title] : []),
    ...(columns.length === 0 ? [] : [
      columns.map((c, i) => pad(c, i)).join("  ").trimEnd(),
      widths.map((w) => "─".repeat(w)).join("  "),
    ]),
    ...cells.map((row) => row.map((c, i) => pad(c, i)).join("  ").trimEnd()),
    ...(footer ? [footer] : []),
    ...(rows.length === 0 ? ["(no rows)"] : []),
  ].join("\n");
  // JupyterLab right-aligns table cells by default: say it for both kinds.
  const align = (i: number) => ` style="text-align: ${numeric[i] ? "right" : "left"}"`;
  const html = `<div>${options.title ? `<p><b>${escapeHtml(options.title)}</b></p>` : ""}` +
    `<table><thead><tr>${
      columns.map((c, i) => `<th${align(i)}>${escapeHtml(c)}</th>`).join("")
    }</tr></thead><tbody>${
      cells.map((row) =>
        `<tr>${row.map((c, i) => `<td${align(i)}>${escapeHtml(c)}</td>`).join("")}</tr>`
      ).join("")
    }</tbody></table>${
      footer
        ? `<p><i>${escapeHtml(footer)}</i></p>`
        : rows.length === 0
        ? "<p><i>no rows</i></p>"
        : ""
    }</div>`;
  return renderable({ "text/plain": text, "text/html": html });
}

/**
 * A two-column table of named values (settings, a summary): one row per key, values formatted
 * as in {@linkcode table} (lists joined with commas).
 *
 * @example
 * ```ts
 * import { keyValues } from "./views.ts";
 * keyValues({ topic: "stock_market", partitions: 3 })["text/plain"];
 * // "topic       stock_market\npartitions  3"
 * ```
 */
export function keyValues(values: Readonly<Record<string, unknown>>, title?: string): TableView {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  const cells = entries.map(([key, value]) => [
    key,
    Array.isArray(value) ? value.map((v) => formatCell(key, v)).join(", ") : formatCell(key, value),
  ]);
  const width = Math.max(0, ...cells.map(([key]) => key.length));
  const text = [
    ...(title ? [title] : []),
    ...cells.map(([key, value]) => `${key.padEnd(width)}  ${value}`),
  ].join("\n");
  const html = `<div>${title ? `<p><b>${escapeHtml(title)}</b></p>` : ""}<table><tbody>${
    cells.map(([key, value]) =>
      `<tr><th style="text-align: left">${escapeHtml(key)}</th>` +
      `<td style="text-align: left; overflow-wrap: anywhere"><code>${
        escapeHtml(value)
      }</code></td></tr>`
    ).join("")
  }</tbody></table></div>`;
  return renderable({ "text/plain": text, "text/html": html });
}

function renderable(bundle: { "text/plain": string; "text/html": string }): TableView {
  const view = { ...bundle } as TableView;
  // The Deno kernel renders a cell's last expression through this method.
  Object.defineProperty(view, Symbol.for("Jupyter.display"), {
    value: () => ({ ...bundle }),
    enumerable: false,
  });
  return view;
}

function tableRows(input: TableInput): { rows: TableRow[]; columns: string[] } {
  if (Array.isArray(input)) {
    const columns: string[] = [];
    for (const row of input as TableRow[]) {
      for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
    }
    return { rows: [...input as TableRow[]], columns };
  }
  const frame = input as { toRecords?: unknown; columns?: unknown };
  if (typeof frame.toRecords === "function") {
    // A Polars DataFrame (a Proxy: ask for the method, `in` does not see it).
    const df = input as { toRecords(): Record<string, unknown>[]; columns: string[] };
    return { rows: df.toRecords(), columns: [...df.columns] };
  }
  const result = input as QueryResult;
  return { rows: result.rows, columns: result.columns.map((c) => c.name) };
}

function isNumber(value: unknown): boolean {
  return (typeof value === "number" && Number.isFinite(value)) || typeof value === "bigint";
}

/** How a column's numbers are written: whole, 2 decimals, 4 significant digits, or a percentage. */
export type NumberStyle = "integer" | "fixed2" | "significant4" | "percent";

/**
 * The style that suits a column's numbers: `percent` for a `…pct…`/`…percent…` column, `integer`
 * when all are whole, else 2 decimals for every value (so a column lines up), or 4 significant
 * digits when every value is below 1.
 */
export function numberStyle(column: string, values: readonly unknown[]): NumberStyle {
  if (/pct|percent/i.test(column)) return "percent";
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.every(Number.isInteger)) return "integer";
  return numbers.some((n) => Math.abs(n) >= 1) ? "fixed2" : "significant4";
}

/**
 * One value as table text: instants as ISO text (the date alone at midnight UTC), numbers
 * rounded for reading in the given style (guessed from the value alone when none is given),
 * lists joined.
 *
 * @example
 * ```ts
 * import { formatCell } from "./views.ts";
 * formatCell("ts", new Date("2021-06-24T00:00:00Z")); // "2021-06-24"
 * formatCell("close", 2211.6333910000003); // "2,211.63"
 * formatCell("change_pct", -3.14159); // "-3.14%"
 * ```
 */
export function formatCell(column: string, value: unknown, style?: NumberStyle): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return formatInstant(value.getTime());
  if (typeof value === "bigint") return value.toLocaleString("en-US");
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return String(value);
    const how = style ?? numberStyle(column, [value]);
    if (how === "integer" && Number.isInteger(value)) {
      return /^(year|partition|node|id|nodeId|port)$/i.test(column)
        ? String(value)
        : value.toLocaleString("en-US");
    }
    if (how === "significant4") {
      return value.toLocaleString("en-US", { maximumSignificantDigits: 4 });
    }
    const text = value.toLocaleString("en-US", {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    return how === "percent" ? `${text}%` : text;
  }
  if (Array.isArray(value)) return value.map((v) => formatCell(column, v)).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** An instant as ISO text: `2021-06-24` at midnight UTC, else `2021-06-24T13:45:07Z` (with ms when it has some). */
export function formatInstant(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const iso = new Date(ms).toISOString();
  if (ms % 86_400_000 === 0) return iso.slice(0, 10);
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}
