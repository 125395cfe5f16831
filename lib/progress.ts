/**
 * Progress reporting for long runs: one line rewritten in place on a terminal, a line every few
 * seconds in logs and CI, and a hook the notebooks use to update one output in place.
 *
 * @module
 */

import type { ConsumeProgress } from "./ingest/consume_to_lake.ts";
import type { ProduceProgress } from "./kafka/producer.ts";
import { type Tick, utcDate } from "./tick.ts";

/** Where progress text goes. */
export interface ProgressSink {
  /** Shows the latest state; may drop updates that come too fast. */
  update(text: string): void;
  /** Shows the final state and ends the line. */
  done(text: string): void;
}

/** Options of {@linkcode terminalProgress}. */
export interface TerminalProgressOptions {
  /** Rewrite one line (`\r`) instead of printing lines. @default stderr is a terminal */
  inPlace?: boolean;
  /** Least time between two printed updates. @default 200 in place, 5000 otherwise */
  intervalMs?: number;
  /** Where to write. @default stderr */
  write?: (text: string) => void;
}

/**
 * Progress on stderr: in place on a terminal, every 5 s otherwise.
 *
 * @example
 * ```ts
 * import { terminalProgress } from "./progress.ts";
 * const progress = terminalProgress();
 * progress.update("sent 1,000");
 * progress.done("sent 2,000 in 1.0 s");
 * ```
 */
export function terminalProgress(options: TerminalProgressOptions = {}): ProgressSink {
  const inPlace = options.inPlace ?? Deno.stderr.isTerminal();
  const interval = options.intervalMs ?? (inPlace ? 200 : 5000);
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  let last = -Infinity;
  let shown = "";
  return {
    update(text) {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      if (inPlace) write(`\r\x1b[2K${text}`);
      else write(`${text}\n`);
      shown = text;
    },
    done(text) {
      if (inPlace && shown) write(`\r\x1b[2K${text}\n`);
      else write(`${text}\n`);
    },
  };
}

/** Formats a count with thousands separators: `12,345`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Formats a rate per second from a count and a duration: `12,345/s`. */
export function formatRate(count: number, elapsedMs: number): string {
  return `${formatCount(elapsedMs > 0 ? count / (elapsedMs / 1000) : 0)}/s`;
}

/** Formats bytes with a binary unit: `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Formats a duration: `850 ms`, `12.3 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** ` · last NYA 2021-06-02 16555.6`: the latest tick, to end a progress line; empty without one. */
export function lastTickNote(last: Tick | undefined): string {
  return last ? ` · last ${last.symbol} ${utcDate(last.ts)} ${last.close}` : "";
}

/**
 * The progress line of a producer run: sent, rate, bytes, rejected rows and the latest tick.
 *
 * @example
 * ```ts
 * import { produceLine } from "./progress.ts";
 * produceLine({ sent: 2000, bytes: 300_000, elapsedMs: 1000 }, 3);
 * // "sent 2,000 (2,000/s, 293.0 KiB) · rejected 3"
 * ```
 */
export function produceLine(p: ProduceProgress, rejected: number): string {
  return `sent ${formatCount(p.sent)} (${formatRate(p.sent, p.elapsedMs)}, ` +
    `${formatBytes(p.bytes)}) · rejected ${formatCount(rejected)}${lastTickNote(p.last)}`;
}

/** The progress line of a consumer run: messages, rate, rows and objects written, buffered, dead letters, latest tick. */
export function consumeLine(p: ConsumeProgress): string {
  return `consumed ${formatCount(p.messages)} (${formatRate(p.messages, p.elapsedMs)}) · ` +
    `${formatCount(p.rowsWritten)} rows in ${formatCount(p.objectsWritten)} objects · ` +
    `buffered ${formatCount(p.bufferedRows)} · dead letters ${formatCount(p.deadLettered)}` +
    lastTickNote(p.last);
}
