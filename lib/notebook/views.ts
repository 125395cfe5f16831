/**
 * What the live outputs of the producer and consumer notebooks show: progress, counts, rates and
 * a board of the last price per symbol, as text and HTML.
 *
 * @module
 */

import type { ConsumeProgress } from "../ingest/consume_to_lake.ts";
import type { ProduceProgress } from "../kafka/producer.ts";
import { formatBytes, formatCount, formatDuration, formatRate } from "../progress.ts";
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
